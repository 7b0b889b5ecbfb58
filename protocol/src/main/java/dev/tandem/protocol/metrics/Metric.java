package dev.tandem.protocol.metrics;

import java.util.List;

/** A named family of series with the same labels names, rendered in Prometheus text format. */
public sealed interface Metric permits Counter, Gauge, Histogram {

    String name();

    String help();

    MetricType type();

    List<String> labelNames();

    /** Appends this family's samples (without HELP/TYPE lines). */
    void writeSamples(StringBuilder out);
}
