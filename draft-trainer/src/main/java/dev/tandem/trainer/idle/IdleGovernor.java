package dev.tandem.trainer.idle;

import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Decides when training may run: only on capacity that serving leaves free. Training is allowed when no
 * request is queued, at most {@code maxActiveSequences} are decoding, and recent step latency is within
 * {@code maxLatencyRatio} of the baseline; and only after these held for {@code quietNanos} (hysteresis, so
 * a gap between two requests of a burst is not mistaken for idleness). The caller asks before every
 * training step, so training yields within one step when load arrives.
 */
public final class IdleGovernor {

    /**
     * @param maxQueueDepth       most queued requests that still count as idle (normally 0)
     * @param maxActiveSequences  most decoding sequences that still count as idle (0 = serving must be idle)
     * @param maxLatencyRatio     recent step latency over baseline above which serving counts as loaded
     * @param quietNanos          how long the signals must have been idle before training starts
     */
    public record Settings(int maxQueueDepth, int maxActiveSequences, double maxLatencyRatio, long quietNanos) {
        public Settings {
            if (maxQueueDepth < 0 || maxActiveSequences < 0 || !(maxLatencyRatio >= 1) || quietNanos < 0) {
                throw new IllegalArgumentException("bad idle governor settings " + this);
            }
        }
    }

    private final Settings settings;
    private final Supplier<ServingSignals> signals;
    private final LongSupplier clock;
    private long idleSince = -1;
    private long decisions;
    private long allowed;

    public IdleGovernor(Settings settings, Supplier<ServingSignals> signals, LongSupplier clock) {
        this.settings = settings;
        this.signals = signals;
        this.clock = clock;
    }

    public IdleGovernor(Settings settings, Supplier<ServingSignals> signals) {
        this(settings, signals, System::nanoTime);
    }

    /** Whether serving looks idle right now (no hysteresis). */
    public boolean servingIdle(ServingSignals s) {
        if (s.queueDepth() > settings.maxQueueDepth()) return false;
        if (s.activeSequences() > settings.maxActiveSequences()) return false;
        return s.baselineStepNanos() <= 0 || s.recentStepNanos() <= 0
                || s.recentStepNanos() <= settings.maxLatencyRatio() * s.baselineStepNanos();
    }

    /** Whether one training step may start now. */
    public synchronized boolean mayTrain() {
        decisions++;
        long now = clock.getAsLong();
        if (!servingIdle(signals.get())) {
            idleSince = -1;
            return false;
        }
        if (idleSince < 0) idleSince = now;
        boolean ok = now - idleSince >= settings.quietNanos();
        if (ok) allowed++;
        return ok;
    }

    public synchronized long decisions() { return decisions; }

    public synchronized long allowed() { return allowed; }
}
