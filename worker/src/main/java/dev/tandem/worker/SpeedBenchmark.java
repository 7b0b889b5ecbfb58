package dev.tandem.worker;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.parallel.RangeTask;
import dev.tandem.engine.tensor.F32Matrix;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;

/**
 * A quick measure of a worker's speed for placement: the engine's own float32 matrix-vector kernel on a
 * square matrix, split over the stage's thread count, as a decode step runs it. Reports GFLOP/s
 * (one multiply-add = 2 flops).
 */
final class SpeedBenchmark {

    /** Rounds run before timing, so the JIT has compiled the kernel. */
    private static final int WARM_UP_ROUNDS = 20;

    private SpeedBenchmark() {}

    static double measureGflops(int size, int threads, Duration duration) {
        F32Matrix matrix = new F32Matrix(MemorySegment.ofArray(new byte[size * size * Float.BYTES]), size, size);
        float[] x = new float[size];
        Arrays.fill(x, 0.5f);
        float[] out = new float[size];
        RangeTask task = (start, end) -> matrix.matmul(x, 0, size, 1, out, 0, size, start, end);
        try (ParallelRunner runner = new ParallelRunner(threads)) {
            for (int i = 0; i < WARM_UP_ROUNDS; i++) runner.forRange(size, task);
            long budget = duration.toNanos();
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
