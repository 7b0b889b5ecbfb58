package dev.tandem.protocol.metrics;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

/**
 * A value that goes up and down per label combination: either set explicitly or read from a
 * supplier at scrape time (for values that already live somewhere, like KV bytes in use).
 */
public final class Gauge implements Metric {

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final ConcurrentHashMap<LabelKey, DoubleSupplier> series = new ConcurrentHashMap<>();

    Gauge(String name, String help, List<String> labelNames) {
        this.name = name;
        this.help = help;
        this.labelNames = List.copyOf(labelNames);
    }

    /** Sets a fixed value for these labels. */
    public void set(double value, String... labelValues) {
        double v = value;
        series.put(LabelKey.of(labelNames, labelValues), () -> v);
    }

    /** Reads the value from {@code supplier} at every scrape. */
    public void track(DoubleSupplier supplier, String... labelValues) {
        series.put(LabelKey.of(labelNames, labelValues), supplier);
    }

    /** Drops the series of these labels (a stage that went away). */
    public void remove(String... labelValues) {
        series.remove(LabelKey.of(labelNames, labelValues));
    }

    public double value(String... labelValues) {
        DoubleSupplier s = series.get(LabelKey.of(labelNames, labelValues));
        return s == null ? Double.NaN : s.getAsDouble();
    }

    @Override public String name() { return name; }

    @Override public String help() { return help; }

    @Override public MetricType type() { return MetricType.GAUGE; }

    @Override public List<String> labelNames() { return labelNames; }

    @Override
    public void writeSamples(StringBuilder out) {
        series.forEach((key, supplier) -> {
            out.append(name);
            key.write(out, labelNames, null, null);
            out.append(' ').append(SampleFormat.number(supplier.getAsDouble())).append('\n');
        });
    }
}
