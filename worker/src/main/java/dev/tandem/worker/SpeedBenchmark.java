package dev.tandem.worker;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.parallel.RangeTask;
import dev.tandem.engine.tensor.F32Matrix;

import java.lang.foreign.Arena;
import java.time.Duration;
import java.util.Arrays;

/**
 * A quick measure of a worker's speed for placement: the engine's own float32 matrix-vector kernel on a
 * square matrix, split over the stage's thread count, as a decode step runs it. Reports GFLOP/s
 * (one multiply-add = 2 flops).
 */
final class SpeedBenchmark {

    /** Share of the duration spent warming up (so the JIT has compiled the kernel) before timing. */
    private static final double WARM_UP_SHARE = 0.5;

    private SpeedBenchmark() {}

    static double measureGflops(int size, int threads, Duration duration) {
        // Off-heap like the memory-mapped weights the stages read.
        Arena arena = Arena.ofAuto();
        F32Matrix matrix = new F32Matrix(arena.allocate((long) size * size * Float.BYTES), size, size);
        float[] x = new float[size];
        Arrays.fill(x, 0.5f);
        float[] out = new float[size];
        RangeTask task = (start, end) -> matrix.matmul(x, 0, size, 1, out, 0, size, start, end);
        try (ParallelRunner runner = new ParallelRunner(threads)) {
            long warmUpEnd = System.nanoTime() + (long) (duration.toNanos() * WARM_UP_SHARE);
            while (System.nanoTime() < warmUpEnd) runner.forRange(size, task);
            long budget = (long) (duration.toNanos() * (1 - WARM_UP_SHARE));
            long start = System.nanoTime();
            long rounds = 0;
            long elapsed;
            do {
                runner.forRange(size, task);
                rounds++;
                elapsed = System.nanoTime() - start;
            } while (elapsed < budget);
            return 2.0 * size * size * rounds / elapsed;
        }
    }
}
