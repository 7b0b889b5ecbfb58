package dev.tandem.protocol.metrics;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.regex.Pattern;

/**
 * The metrics of one node, rendered in the Prometheus text exposition format (version 0.0.4).
 * Registering the same name twice returns the existing family when its shape matches, so modules
 * may register what they record without coordinating.
 */
public final class MetricsRegistry {

    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    /** Latency buckets in milliseconds, from sub-millisecond steps to tens of seconds. */
    public static final double[] LATENCY_MS_BUCKETS = {0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000};

    private final Map<String, Metric> metrics = new ConcurrentSkipListMap<>();

    public Counter counter(String name, String help, String... labelNames) {
        return register(new Counter(name, help, List.of(labelNames)), Counter.class);
    }

    public Gauge gauge(String name, String help, String... labelNames) {
        return register(new Gauge(name, help, List.of(labelNames)), Gauge.class);
    }

    public Histogram histogram(String name, String help, double[] bounds, String... labelNames) {
        return register(new Histogram(name, help, List.of(labelNames), bounds), Histogram.class);
    }

    public List<Metric> metrics() { return List.copyOf(metrics.values()); }

    private <M extends Metric> M register(M metric, Class<M> type) {
        if (!NAME.matcher(metric.name()).matches()) throw new IllegalArgumentException("bad metric name " + metric.name());
        for (String l : metric.labelNames()) {
            if (!LABEL.matcher(l).matches() || l.startsWith("__") || l.equals("le")) {
                throw new IllegalArgumentException("bad label name " + l + " on " + metric.name());
            }
        }
        Metric existing = metrics.putIfAbsent(metric.name(), metric);
        if (existing == null) return metric;
        if (!type.isInstance(existing) || !existing.labelNames().equals(metric.labelNames())) {
            throw new IllegalArgumentException("metric " + metric.name() + " is already registered as a "
                    + existing.type() + " with labels " + existing.labelNames());
        }
        return type.cast(existing);
    }

    /** All metrics in the Prometheus text format. */
    public String scrape() {
        StringBuilder out = new StringBuilder(4096);
        for (Metric m : metrics.values()) {
            out.append("# HELP ").append(m.name()).append(' ').append(m.help().replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
            out.append("# TYPE ").append(m.name()).append(' ').append(m.type().exposition()).append('\n');
            m.writeSamples(out);
        }
        return out.toString();
    }
}
