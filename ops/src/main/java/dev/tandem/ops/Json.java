package dev.tandem.ops;

import dev.tandem.engine.json.JsonText;

import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A minimal JSON writer for the command's machine-readable output (maps, lists, strings, numbers, booleans). */
final class Json {

    private Json() {}

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value, int indent) {
        switch (value) {
            case null -> out.append("null");
            case String s -> string(out, s);
            case Boolean b -> out.append(b);
            case Double d -> out.append(Double.isFinite(d) ? String.format(Locale.ROOT, "%.3f", d) : "null");
            case Float f -> write(out, f.doubleValue(), indent);
            case Number n -> out.append(n);
            case Map<?, ?> map -> {
                out.append("{");
                Iterator<? extends Map.Entry<?, ?>> it = map.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<?, ?> e = it.next();
                    newline(out, indent + 1);
                    string(out, String.valueOf(e.getKey()));
                    out.append(": ");
                    write(out, e.getValue(), indent + 1);
                    if (it.hasNext()) out.append(",");
                }
                if (!map.isEmpty()) newline(out, indent);
                out.append("}");
            }
            case List<?> list -> {
                out.append("[");
                for (int i = 0; i < list.size(); i++) {
                    newline(out, indent + 1);
                    write(out, list.get(i), indent + 1);
                    if (i < list.size() - 1) out.append(",");
                }
                if (!list.isEmpty()) newline(out, indent);
                out.append("]");
            }
            default -> string(out, value.toString());
        }
    }

    private static void newline(StringBuilder out, int indent) {
        out.append("\n").append("  ".repeat(indent));
    }

    private static void string(StringBuilder out, String s) {
        JsonText.appendQuoted(out, s);
    }
}
