package dev.tandem.engine.parallel;

/**
 * Like {@link RangeTask}, but also told which chunk it runs ({@code 0 <= chunk < threads}), so that it
 * can use per-chunk scratch space without allocating: no two chunks of one call run at once on the same index.
 */
@FunctionalInterface
public interface ChunkTask {

    void run(int chunk, int start, int end);
}
