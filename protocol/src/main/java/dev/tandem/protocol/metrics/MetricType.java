package dev.tandem.protocol.metrics;

/** Prometheus metric types that Tandem exposes. */
public enum MetricType {
    COUNTER, GAUGE, HISTOGRAM;

    String exposition() { return name().toLowerCase(java.util.Locale.ROOT); }
}
