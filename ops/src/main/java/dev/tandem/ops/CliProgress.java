package dev.tandem.ops;

import dev.tandem.engine.model.ProgressListener;

/** Shows the engine's progress reports (fetching, hashing) as a progress bar on stderr. */
final class CliProgress implements ProgressListener {

    private final String label;
    private ProgressBar bar;

    CliProgress(String label) {
        this.label = label;
    }

    @Override
    public void step(String description) {
        bar = new ProgressBar(System.err, label + ": " + description);
    }

    @Override
    public void progress(long done, long total) {
        if (bar == null) bar = new ProgressBar(System.err, label);
        bar.update(done, total);
    }
}
