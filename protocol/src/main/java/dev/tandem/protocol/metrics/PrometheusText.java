package dev.tandem.protocol.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict reader of the Prometheus text format, for tests and tools that check what a node
 * exposes: every sample must belong to a family declared by a TYPE line, names and labels must be
 * well formed, values must parse. Throws {@link IllegalArgumentException} with the line otherwise.
 */
public final class PrometheusText {

    /** One sample line. */
    public record Sample(String name, Map<String, String> labels, double value) {}

    /** The parsed families (name to type) and samples. */
    public record Exposition(Map<String, MetricType> types, List<Sample> samples) {

        public boolean hasFamily(String name) { return types.containsKey(name); }

        /** Sum of the samples named exactly {@code name} whose labels include {@code match}. */
        public double sum(String name, Map<String, String> match) {
            double total = 0;
            for (Sample s : samples) {
                if (s.name().equals(name) && s.labels().entrySet().containsAll(match.entrySet())) total += s.value();
            }
            return total;
        }
    }

    private PrometheusText() {}

    public static Exposition parse(String text) {
        Map<String, MetricType> types = new LinkedHashMap<>();
        Map<String, Boolean> helped = new HashMap<>();
        List<Sample> samples = new ArrayList<>();
        int lineNo = 0;
        for (String line : text.split("\n", -1)) {
            lineNo++;
            if (line.isEmpty()) continue;
            if (line.startsWith("# HELP ")) {
                String rest = line.substring(7);
                helped.put(rest.split(" ", 2)[0], true);
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                if (parts.length != 2) throw bad(lineNo, line, "TYPE needs a name and a type");
                MetricType type = switch (parts[1]) {
                    case "counter" -> MetricType.COUNTER;
                    case "gauge" -> MetricType.GAUGE;
                    case "histogram" -> MetricType.HISTOGRAM;
                    default -> throw bad(lineNo, line, "unknown type " + parts[1]);
                };
                if (types.put(parts[0], type) != null) throw bad(lineNo, line, "family declared twice");
                continue;
            }
            if (line.startsWith("#")) continue;
            Sample s = sample(line, lineNo);
            if (family(s.name(), types) == null) throw bad(lineNo, line, "sample of an undeclared family");
            samples.add(s);
        }
        return new Exposition(types, samples);
    }

    private static String family(String sampleName, Map<String, MetricType> types) {
        if (types.containsKey(sampleName)) return sampleName;
        for (String suffix : new String[]{"_bucket", "_sum", "_count"}) {
            if (sampleName.endsWith(suffix)) {
                String base = sampleName.substring(0, sampleName.length() - suffix.length());
                if (types.get(base) == MetricType.HISTOGRAM) return base;
            }
        }
        return null;
    }

    private static Sample sample(String line, int lineNo) {
        int i = 0;
        while (i < line.length() && (Character.isLetterOrDigit(line.charAt(i)) || line.charAt(i) == '_' || line.charAt(i) == ':')) i++;
        if (i == 0) throw bad(lineNo, line, "no metric name");
        String name = line.substring(0, i);
        Map<String, String> labels = new LinkedHashMap<>();
        if (i < line.length() && line.charAt(i) == '{') {
            i++;
            while (line.charAt(i) != '}') {
                int eq = line.indexOf('=', i);
                if (eq < 0) throw bad(lineNo, line, "label without '='");
                String label = line.substring(i, eq);
                if (!label.matches("[a-zA-Z_][a-zA-Z0-9_]*")) throw bad(lineNo, line, "bad label name " + label);
                if (line.charAt(eq + 1) != '"') throw bad(lineNo, line, "label value not quoted");
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        char n = line.charAt(++j);
                        value.append(n == 'n' ? '\n' : n);
                    } else {
                        value.append(c);
                    }
                }
                labels.put(label, value.toString());
                i = j + 1;
                if (line.charAt(i) == ',') i++;
            }
            i++;
        }
        if (i >= line.length() || line.charAt(i) != ' ') throw bad(lineNo, line, "no value");
        String[] rest = line.substring(i + 1).trim().split(" ");
        double value;
        try {
            value = switch (rest[0]) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(rest[0]);
            };
        } catch (NumberFormatException e) {
            throw bad(lineNo, line, "value is not a number");
        }
        return new Sample(name, labels, value);
    }

    private static IllegalArgumentException bad(int lineNo, String line, String why) {
        return new IllegalArgumentException("line " + lineNo + ": " + why + ": " + line);
    }
}
