package dev.tandem.engine.parallel;

/**
 * How a kernel warm-up thread is scheduled: in Linux's idle CPU class ({@link BackgroundScheduling}) for its first
 * {@link #IDLE_GRACE_NANOS}, then in the normal class. The idle class alone is not enough: on cores that stay busy (a
 * node serving from its first second, or a benchmark) it gave the screen's warm-up no time, and with both cores
 * decoding that took 6-7 s instead of ~1.3 s, every forward meanwhile taking the whole float32 head (a single stream
 * at half speed: `bench engine` measured decode at 254 and 527 tok/s in two runs, depending on when the screen
 * warmed). One per warm-up thread, made on that thread.
 */
public final class WarmUpScheduling {

    /** Time in the idle class before the normal class. */
    public static final long IDLE_GRACE_NANOS = 1_000_000_000L;

    private final long start = System.nanoTime();
    private boolean idle;

    private WarmUpScheduling() {
        idle = BackgroundScheduling.enterIdleClass();
    }

    /** Puts the calling thread in the idle class (where the OS allows it). */
    public static WarmUpScheduling enter() {
        return new WarmUpScheduling();
    }

    /** Between two units of work: moves the thread to the normal class once its grace has passed. */
    public void check() {
        if (idle && System.nanoTime() - start > IDLE_GRACE_NANOS) {
            BackgroundScheduling.leaveIdleClass();
            idle = false;
        }
    }
}
