package dev.tandem.coordinator.api;

/**
 * One step of a live plan change, for a progress bar.
 *
 * @param fraction overall progress in [0, 1]
 */
public record RebalanceProgress(Phase phase, String message, double fraction) {

    public enum Phase {
        /** New owners map their layers (a range at a time). */
        LOADING,
        /** New stages run a few forwards so the kernels are compiled before traffic arrives. */
        WARMING,
        /** The new plan is published; schedulers switch routes at their next step boundary. */
        SWITCHING,
        /** Waiting for the steps still in flight on the old stages, which are then dropped. */
        DRAINING,
        /** A drained node leaves the cluster. */
        LEAVING,
        /** The change is complete (or there was nothing to change: see the message). */
        DONE
    }
}
