package dev.tandem.worker;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.LongSupplier;

/**
 * A quick measure of a worker's speed for placement: a float32 matrix-vector product in plain Java on one
 * thread, scaled by the stage's thread count. Plain loops are compiled by the JIT within milliseconds (the
 * Vector API kernels need far longer to warm up than a start-up check may take), and placement only needs
 * speeds relative to each other. Reports GFLOP/s (one multiply-add = 2 flops).
 *
 * <p>Timed in the thread's CPU time, not wall time: workers start together, and on a shared host (a local
 * cluster) each one's measurement ran while the others' JVMs started up. In wall time, two identical workers on
 * one 2-core host measured 0.39 against 0.91 and 0.15 against 4.45 GFLOP/s, and placement then gave one of them 4
 * of 6 layers, or all of them (a one-stage "pipeline"). Time spent waiting for a core no longer counts, and
 * the fastest of several windows is the result, since a window can still be slowed (shared caches, a loop the JIT
 * has not compiled yet when the warm-up got little CPU) but never sped up by the neighbours. Timing goes on while
 * the rate still rises: the fastest of a fixed ten still measured 1.98 against 4.61 once.
 */
final class SpeedBenchmark {

    /** Share of the duration spent warming up (so the JIT has compiled the loop) before timing. */
    private static final double WARM_UP_SHARE = 0.5;
    /** The timed share is cut into this many windows, and the fastest one counts. */
    private static final int WINDOWS = 10;
    /** Most windows timed while the rate still rises (ten times the duration's timed share). */
    private static final int MAX_WINDOWS = 10 * WINDOWS;
    /** A window counts as a new best when it beats the best so far by this share. */
    private static final double NEW_BEST = 0.02;

    private SpeedBenchmark() {}

    static double measureGflops(int size, int threads, Duration duration) {
        float[] matrix = new float[size * size];
        for (int i = 0; i < matrix.length; i++) matrix[i] = (i % 17) * 0.01f;
        float[] x = new float[size];
        Arrays.fill(x, 0.5f);
        float[] out = new float[size];
        long warmUpEnd = System.nanoTime() + (long) (duration.toNanos() * WARM_UP_SHARE);
        while (System.nanoTime() < warmUpEnd) multiply(matrix, x, out, size);
        long window = (long) (duration.toNanos() * (1 - WARM_UP_SHARE)) / WINDOWS;
        LongSupplier clock = cpuClock();
        double bestRoundsPerNano = 0;
        // At least WINDOWS windows, then on until WINDOWS in a row bring no new best (the JIT's C2 code, or the
        // neighbours' start-up ending, raises the rate late on a busy host), at most MAX_WINDOWS.
        for (int w = 0, sinceBest = 0; w < MAX_WINDOWS && (w < WINDOWS || sinceBest < WINDOWS); w++) {
            long start = clock.getAsLong();
            long rounds = 0;
            long elapsed;
            do {
                multiply(matrix, x, out, size);
                rounds++;
                elapsed = clock.getAsLong() - start;
            } while (elapsed < window);
            double rate = (double) rounds / elapsed;
            if (rate > bestRoundsPerNano * (1 + NEW_BEST)) sinceBest = 0;
            else sinceBest++;
            bestRoundsPerNano = Math.max(bestRoundsPerNano, rate);
        }
        if (out[size - 1] == Float.MIN_VALUE) throw new AssertionError(); // keeps the result alive
        return 2.0 * size * size * bestRoundsPerNano * threads;
    }

    /** The calling thread's CPU time in nanoseconds, or wall time where the JVM cannot measure it. */
    private static LongSupplier cpuClock() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        if (threads.isCurrentThreadCpuTimeSupported()) {
            if (!threads.isThreadCpuTimeEnabled()) threads.setThreadCpuTimeEnabled(true);
            return threads::getCurrentThreadCpuTime;
        }
        return System::nanoTime;
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
