package dev.tandem.ops;

import java.io.PrintStream;

/** A one-line progress bar on stderr, redrawn in place; quiet when stderr is not a terminal-ish stream. */
final class ProgressBar {

    private static final int WIDTH = 30;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintStream out;
    private final String label;
    private long lastDraw;
    private int lastPercent = -1;

    ProgressBar(PrintStream out, String label) {
        this.out = out;
        this.label = label;
    }

    void update(long done, long total) {
        int percent = total <= 0 ? 0 : (int) Math.min(100, done * 100 / total);
        long now = System.nanoTime();
        if (percent == lastPercent || (now - lastDraw < REDRAW_NANOS && percent < 100)) return;
        lastDraw = now;
        lastPercent = percent;
        int filled = percent * WIDTH / 100;
        out.printf("\r%s [%s%s] %3d%% %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled), percent,
                total > 0 ? String.format("%.1f/%.1f MB", done / 1e6, total / 1e6) : "");
        if (percent == 100) out.println();
        out.flush();
    }

    void message(String text) {
        out.println(label + ": " + text);
    }
}
