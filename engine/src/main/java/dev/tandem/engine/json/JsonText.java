package dev.tandem.engine.json;

import java.util.Locale;

/** The two pieces every hand-written JSON output in Tandem needs: quoted strings and fixed-point numbers. */
public final class JsonText {

    private JsonText() {}

    /** {@code s} as a JSON string literal, quotes included. */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2);
        appendQuoted(out, s);
        return out.toString();
    }

    /** Appends {@code s} as a JSON string literal, quotes included. */
    public static void appendQuoted(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /** {@code v} with {@code decimals} digits after the point, or {@code null} when it is not finite. */
    public static String number(double v, int decimals) {
        if (!Double.isFinite(v)) return "null";
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
