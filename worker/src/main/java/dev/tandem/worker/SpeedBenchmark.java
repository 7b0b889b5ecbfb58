package dev.tandem.worker;

import java.time.Duration;
import java.util.Arrays;

/**
 * A quick measure of a worker's speed for placement: a float32 matrix-vector product in plain Java on one
 * thread, scaled by the stage's thread count. Plain loops are compiled by the JIT within milliseconds (the
 * Vector API kernels need far longer to warm up than a start-up check may take), and placement only needs
 * speeds relative to each other. Reports GFLOP/s (one multiply-add = 2 flops).
 */
final class SpeedBenchmark {

    /** Share of the duration spent warming up (so the JIT has compiled the loop) before timing. */
    private static final double WARM_UP_SHARE = 0.5;

    private SpeedBenchmark() {}

    static double measureGflops(int size, int threads, Duration duration) {
        float[] matrix = new float[size * size];
        for (int i = 0; i < matrix.length; i++) matrix[i] = (i % 17) * 0.01f;
        float[] x = new float[size];
        Arrays.fill(x, 0.5f);
        float[] out = new float[size];
        long warmUpEnd = System.nanoTime() + (long) (duration.toNanos() * WARM_UP_SHARE);
        while (System.nanoTime() < warmUpEnd) multiply(matrix, x, out, size);
        long budget = (long) (duration.toNanos() * (1 - WARM_UP_SHARE));
        long start = System.nanoTime();
        long rounds = 0;
        long elapsed;
        do {
            multiply(matrix, x, out, size);
            rounds++;
            elapsed = System.nanoTime() - start;
        } while (elapsed < budget);
        if (out[size - 1] == Float.MIN_VALUE) throw new AssertionError(); // keeps the result alive
        return 2.0 * size * size * rounds / elapsed * threads;
    }

    private static void multiply(float[] matrix, float[] x, float[] out, int size) {
        for (int r = 0; r < size; r++) {
            float sum = 0;
            int base = r * size;
            for (int c = 0; c < size; c++) sum += matrix[base + c] * x[c];
            out[r] = sum;
        }
    }
}
