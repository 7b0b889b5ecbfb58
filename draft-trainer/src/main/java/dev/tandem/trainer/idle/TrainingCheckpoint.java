package dev.tandem.trainer.idle;

/**
 * Cooperative pause points inside training: the forward and backward passes call {@link #check()} between
 * their matrix products (every few milliseconds). On the training thread, the {@link TrainingWorker}
 * installs a hook that waits there while serving is busy, so load arriving in the middle of a step stalls
 * that step instead of competing with it for cores. Elsewhere (tests, the offline bootstrap) it does nothing.
 */
public final class TrainingCheckpoint {

    private static final ThreadLocal<Runnable> HOOK = new ThreadLocal<>();

    private TrainingCheckpoint() {}

    /** Installs the current thread's hook (null removes it). */
    public static void install(Runnable hook) {
        if (hook == null) HOOK.remove();
        else HOOK.set(hook);
    }

    /** The current thread's hook, or null (to carry it to a thread that works on the same step). */
    public static Runnable current() {
        return HOOK.get();
    }

    public static void check() {
        Runnable hook = HOOK.get();
        if (hook != null) hook.run();
    }
}
