package dev.tandem.trainer.idle;

/**
 * What serving reports about its load, sampled by the {@link IdleGovernor}.
 *
 * @param queueDepth          requests waiting for a batch slot
 * @param activeSequences     sequences decoding now
 * @param recentStepNanos     recent step latency (a moving average; 0 = no recent steps)
 * @param baselineStepNanos   step latency when unloaded (0 = unknown)
 */
public record ServingSignals(int queueDepth, int activeSequences, long recentStepNanos, long baselineStepNanos) {

    public static final ServingSignals IDLE = new ServingSignals(0, 0, 0, 0);
}
