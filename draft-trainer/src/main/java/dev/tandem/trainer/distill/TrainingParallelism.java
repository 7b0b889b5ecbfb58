package dev.tandem.trainer.distill;

import dev.tandem.engine.parallel.ParallelRunner;

/**
 * The pool the training thread splits its dense products over (see {@link TrainingKernels}), installed per
 * thread like {@link dev.tandem.trainer.idle.TrainingCheckpoint}'s hook: training runs when serving leaves the
 * node idle, so all of its cores may work on a step. Without one, or for small products, they run on the
 * calling thread. The split is over independent output rows, so results are the same either way.
 */
public final class TrainingParallelism {

    private static final ThreadLocal<ParallelRunner> RUNNER = new ThreadLocal<>();

    private TrainingParallelism() {}

    /** Installs the current thread's pool (null removes it); the runner stays the caller's to close. */
    public static void install(ParallelRunner runner) {
        if (runner == null) RUNNER.remove();
        else RUNNER.set(runner);
    }

    /** The current thread's pool when it has more than one thread, else null. */
    static ParallelRunner pool() {
        ParallelRunner runner = RUNNER.get();
        return runner != null && runner.threads() > 1 ? runner : null;
    }

    /** The current thread's pool when a product of {@code work} multiply-adds is worth splitting, else null. */
    static ParallelRunner forWork(long work) {
        ParallelRunner runner = RUNNER.get();
        return runner != null && runner.threads() > 1 && work >= TrainingKernels.PARALLEL_WORK ? runner : null;
    }
}
