package dev.tandem.protocol.metrics;

import java.util.Arrays;
import java.util.List;

/** The label values of one series, compared by value. */
record LabelKey(String[] values) {

    static final LabelKey NONE = new LabelKey(new String[0]);

    static LabelKey of(List<String> names, String... values) {
        if (values.length != names.size()) {
            throw new IllegalArgumentException("expected label values for " + names + ", got " + values.length);
        }
        return new LabelKey(values.clone());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelKey k && Arrays.equals(values, k.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    /** {@code {a="x",b="y"}} plus optional extra label, or empty when there are no labels. */
    void write(StringBuilder out, List<String> names, String extraName, String extraValue) {
        if (names.isEmpty() && extraName == null) return;
        out.append('{');
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) out.append(',');
            out.append(names.get(i)).append("=\"");
            escape(out, values[i]);
            out.append('"');
        }
        if (extraName != null) {
            if (!names.isEmpty()) out.append(',');
            out.append(extraName).append("=\"").append(extraValue).append('"');
        }
        out.append('}');
    }

    private static void escape(StringBuilder out, String v) {
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '"' -> out.append("\\\"");
                case '\n' -> out.append("\\n");
                default -> out.append(c);
            }
        }
    }
}
