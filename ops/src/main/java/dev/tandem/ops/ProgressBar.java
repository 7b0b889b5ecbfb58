package dev.tandem.ops;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress on stderr: a bar redrawn in place on a terminal; in logs (no console) one line per
 * quarter, so that CI output stays readable.
 */
final class ProgressBar {

    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;
    private static final int LOG_STEP_PERCENT = 25;

    private final PrintStream out;
    private final String label;
    private final boolean interactive;
    private long lastDraw;
    private int lastPercent = -1;

    ProgressBar(PrintStream out, String label) {
        this.out = out;
        this.label = label;
        this.interactive = System.console() != null;
    }

    void update(long done, long total) {
        int percent = total <= 0 ? 0 : (int) Math.min(100, done * 100 / total);
        if (percent == lastPercent) return;
        String size = total > 0 ? String.format(Locale.ROOT, "%.1f/%.1f MB", done / 1e6, total / 1e6)
                : String.format(Locale.ROOT, "%.1f MB", done / 1e6);
        if (!interactive) {
            if (percent / LOG_STEP_PERCENT == lastPercent / LOG_STEP_PERCENT && lastPercent >= 0) return;
            lastPercent = percent;
            out.printf(Locale.ROOT, "%s %3d%% %s%n", label, percent, size);
            return;
        }
        long now = System.nanoTime();
        if (now - lastDraw < REDRAW_NANOS && percent < 100) return;
        lastDraw = now;
        lastPercent = percent;
        int filled = percent * WIDTH / 100;
        out.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled), percent, size);
        if (percent == 100) out.println();
        out.flush();
    }
}
