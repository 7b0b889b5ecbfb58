package dev.tandem.trainer.version;

/**
 * One entry of a traffic class's draft history, as stored in {@code metrics.json}.
 *
 * @param version       the draft's version number (increasing per class)
 * @param status        {@link Status}
 * @param createdMillis when it was evaluated (epoch milliseconds)
 * @param metrics       its acceptance on the held-out samples it was judged on
 * @param liveMetrics   the then-live draft's acceptance on the same samples (NONE when there was none)
 * @param note          where it came from ("bootstrap", "online", "rollback of v3", ...)
 */
public record DraftVersion(long version, Status status, long createdMillis, AcceptanceMetrics metrics, AcceptanceMetrics liveMetrics,
                           String note) {

    public enum Status {
        /** Serving now. */
        LIVE,
        /** Served before, replaced by a better one; its checkpoint is kept for rollback. */
        RETIRED,
        /** Evaluated and not better than the live draft: never published, no checkpoint. */
        REJECTED,
        /** Published, then found worse and rolled back. */
        ROLLED_BACK
    }

    public DraftVersion withStatus(Status s) {
        return new DraftVersion(version, s, createdMillis, metrics, liveMetrics, note);
    }

    /** The checkpoint file name of a version. */
    public static String fileName(long version) {
        return "v" + version + dev.tandem.engine.draft.DraftCheckpoint.EXTENSION;
    }
}
