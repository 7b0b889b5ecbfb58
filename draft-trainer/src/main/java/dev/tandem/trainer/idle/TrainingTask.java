package dev.tandem.trainer.idle;

/** One unit of background training work, small enough that the governor's decisions stay timely. */
@FunctionalInterface
public interface TrainingTask {

    /** Runs one step; returns false when there was nothing to do (the worker then backs off). */
    boolean step();
}
