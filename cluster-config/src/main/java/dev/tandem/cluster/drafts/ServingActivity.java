package dev.tandem.cluster.drafts;

import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.trainer.idle.ServingSignals;

import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The serving load of a worker node as its last stages report it, for the trainer's idle governor: sequences
 * that started verifying here and were not released, and the interval between verification steps (a moving
 * average while sequences run; the smallest seen is the baseline). Forwards every call to the recorder.
 * Called on the stage dispatcher (quick and lock-free); read by the training thread.
 *
 * <p>A sequence that stops being verified without a release (its stage was dropped by a rebalance) stops
 * counting after {@code staleNanos}, so it cannot keep training off forever.
 */
public final class ServingActivity extends VerificationListener.Forwarding {

    /** Weight of the newest interval in the moving average. */
    private static final double AVERAGE_WEIGHT = 0.2;
    /** Calls closer than this belong to one step (its sequences' rows are verified one after the other). */
    private static final long SAME_STEP_NANOS = 50_000;

    private final long staleNanos;
    private final java.util.function.LongSupplier clock;
    private final Map<Long, Long> lastSeen = new ConcurrentHashMap<>();
    private final AtomicLong lastStepNanos = new AtomicLong();
    private volatile long recentStepNanos;
    private volatile long baselineStepNanos;

    public ServingActivity(VerificationListener next, long staleNanos) {
        this(next, staleNanos, System::nanoTime);
    }

    ServingActivity(VerificationListener next, long staleNanos, java.util.function.LongSupplier clock) {
        super(next);
        this.staleNanos = staleNanos;
        this.clock = clock;
    }

    @Override
    public void onStart(long seqId, int[] prompt, String trafficClass) {
        lastSeen.put(seqId, clock.getAsLong());
        next.onStart(seqId, prompt, trafficClass);
    }

    @Override
    public void onStart(long seqId, int[] prompt) {
        onStart(seqId, prompt, "");
    }

    @Override
    public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                           int committedRows, Draft draft, int acceptedDrafts) {
        long now = clock.getAsLong();
        lastSeen.put(seqId, now);
        long previous = lastStepNanos.getAndSet(now);
        long gap = now - previous;
        // Rows of one step arrive together (gap ~ 0); an interval longer than the stale bound is a pause, not a step.
        if (previous != 0 && gap > SAME_STEP_NANOS && gap < staleNanos) {
            long r = recentStepNanos;
            long updated = r == 0 ? gap : (long) (r + AVERAGE_WEIGHT * (gap - r));
            recentStepNanos = updated;
            long b = baselineStepNanos;
            if (b == 0 || updated < b) baselineStepNanos = updated;
        }
        next.onVerified(seqId, history, firstPosition, out, firstRow, committedRows, draft, acceptedDrafts);
    }

    @Override
    public void onRelease(long seqId) {
        lastSeen.remove(seqId);
        next.onRelease(seqId);
    }

    /** Sequences running on this node's last stages now. */
    public int activeSequences() {
        long now = clock.getAsLong();
        int n = 0;
        for (Iterator<Map.Entry<Long, Long>> it = lastSeen.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Long> e = it.next();
            if (now - e.getValue() > staleNanos) it.remove();
            else n++;
        }
        return n;
    }

    /** What the idle governor sees: no queue on a worker (the coordinator queues), running sequences, step interval. */
    public ServingSignals signals() {
        int active = activeSequences();
        return new ServingSignals(0, active, active == 0 ? 0 : recentStepNanos, baselineStepNanos);
    }
}
