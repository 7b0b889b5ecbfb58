package dev.tandem.protocol.metrics;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** Observations counted into fixed buckets per label combination (cumulative on exposition). */
public final class Histogram implements Metric {

    private final String name;
    private final String help;
    private final List<String> labelNames;
    private final double[] bounds;
    private final ConcurrentHashMap<LabelKey, Series> series = new ConcurrentHashMap<>();

    Histogram(String name, String help, List<String> labelNames, double[] bounds) {
        if (bounds.length == 0) throw new IllegalArgumentException("a histogram needs bucket bounds");
        for (int i = 1; i < bounds.length; i++) {
            if (!(bounds[i] > bounds[i - 1])) throw new IllegalArgumentException("bucket bounds must increase: " + Arrays.toString(bounds));
        }
        this.name = name;
        this.help = help;
        this.labelNames = List.copyOf(labelNames);
        this.bounds = bounds.clone();
    }

    /** The series for these label values (cache it where the hot path calls it). */
    public Series labels(String... values) {
        return series.computeIfAbsent(LabelKey.of(labelNames, values), k -> new Series(bounds));
    }

    public void observe(double value) { labels().observe(value); }

    /** One labelled histogram. */
    public static final class Series {
        private final double[] bounds;
        private final LongAdder[] buckets;
        private final LongAdder count = new LongAdder();
        private final DoubleAdder sum = new DoubleAdder();

        Series(double[] bounds) {
            this.bounds = bounds;
            this.buckets = new LongAdder[bounds.length];
            for (int i = 0; i < buckets.length; i++) buckets[i] = new LongAdder();
        }

        public void observe(double value) {
            int i = Arrays.binarySearch(bounds, value);
            int bucket = i >= 0 ? i : -i - 1;
            if (bucket < buckets.length) buckets[bucket].increment();
            count.increment();
            sum.add(value);
        }

        public long count() { return count.sum(); }

        public double sum() { return sum.sum(); }
    }

    @Override public String name() { return name; }

    @Override public String help() { return help; }

    @Override public MetricType type() { return MetricType.HISTOGRAM; }

    @Override public List<String> labelNames() { return labelNames; }

    @Override
    public void writeSamples(StringBuilder out) {
        series.forEach((key, s) -> {
            long cumulative = 0;
            for (int i = 0; i < bounds.length; i++) {
                cumulative += s.buckets[i].sum();
                out.append(name).append("_bucket");
                key.write(out, labelNames, "le", SampleFormat.number(bounds[i]));
                out.append(' ').append(cumulative).append('\n');
            }
            out.append(name).append("_bucket");
            key.write(out, labelNames, "le", "+Inf");
            out.append(' ').append(s.count()).append('\n');
            out.append(name).append("_sum");
            key.write(out, labelNames, null, null);
            out.append(' ').append(SampleFormat.number(s.sum())).append('\n');
            out.append(name).append("_count");
            key.write(out, labelNames, null, null);
            out.append(' ').append(s.count()).append('\n');
        });
    }
}
