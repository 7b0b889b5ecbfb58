package dev.tandem.trainer.idle;

/** One unit of background training work, small enough that the governor's decisions stay timely. */
@FunctionalInterface
public interface TrainingTask {

    /** Runs one step; returns false when there was nothing to do (the worker then backs off). */
    boolean step();

    /**
     * Whether the next step may run only when the governor allows it (serving idle), the default. A task may say no
     * for work that is not training (the trainer's warm-up): the worker then runs it without asking, but only while
     * its threads are in the OS's idle scheduling class, where they get nothing but CPU time serving leaves unused.
     */
    default boolean waitsForIdle() {
        return true;
    }
}
