package dev.tandem.protocol.metrics;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;

/** A monotonically increasing count per label combination. Thread-safe, lock-free on the hot path. */
public final class Counter implements Metric {

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final ConcurrentHashMap<LabelKey, DoubleAdder> series = new ConcurrentHashMap<>();

    Counter(String name, String help, List<String> labelNames) {
        this.name = name;
        this.help = help;
        this.labelNames = List.copyOf(labelNames);
        if (labelNames.isEmpty()) series.put(LabelKey.NONE, new DoubleAdder());
    }

    /** The series for these label values (cache it where the hot path calls it). */
    public Child labels(String... values) {
        DoubleAdder adder = series.computeIfAbsent(LabelKey.of(labelNames, values), k -> new DoubleAdder());
        return amount -> {
            if (amount < 0) throw new IllegalArgumentException("a counter only goes up");
            adder.add(amount);
        };
    }

    public void inc() { labels().inc(1); }

    public void inc(double amount) { labels().inc(amount); }

    public double value(String... labelValues) {
        DoubleAdder a = series.get(LabelKey.of(labelNames, labelValues));
        return a == null ? 0 : a.sum();
    }

    /** One labelled series. */
    @FunctionalInterface
    public interface Child {
        void inc(double amount);

        default void inc() { inc(1); }
    }

    @Override public String name() { return name; }

    @Override public String help() { return help; }

    @Override public MetricType type() { return MetricType.COUNTER; }

    @Override public List<String> labelNames() { return labelNames; }

    @Override
    public void writeSamples(StringBuilder out) {
        series.forEach((key, adder) -> {
            out.append(name);
            key.write(out, labelNames, null, null);
            out.append(' ').append(SampleFormat.number(adder.sum())).append('\n');
        });
    }
}
