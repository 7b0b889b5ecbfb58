package dev.tandem.engine.parallel;

/** Work over a half-open index range [start, end); called once per chunk by {@link ParallelRunner}. */
@FunctionalInterface
public interface RangeTask {

    void run(int start, int end);
}
