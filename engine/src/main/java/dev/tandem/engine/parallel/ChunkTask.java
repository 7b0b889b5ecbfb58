package dev.tandem.engine.parallel;

/**
 * Like {@link RangeTask}, but also told which thread runs it ({@code 0 <= thread < threads}, 0 being the
 * caller), so that it can use per-thread scratch space without allocating.
 */
@FunctionalInterface
public interface ChunkTask {

    void run(int thread, int start, int end);
}
