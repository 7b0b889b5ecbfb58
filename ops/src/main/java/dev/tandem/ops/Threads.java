package dev.tandem.ops;

/** Validation of a --threads value. */
final class Threads {

    private Threads() {}

    static int validate(int threads) {
        if (threads < 1 || threads > 1024) throw CommandFailure.usage("--threads must be between 1 and 1024, got " + threads);
        return threads;
    }

    /** Like {@link #validate} but 0 is allowed and means all processors. */
    static int validateOrAll(int threads) {
        return threads == 0 ? 0 : validate(threads);
    }
}
