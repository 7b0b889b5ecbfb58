package dev.tandem.engine.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Random values and row-major float32 matrices for the kernel tests. */
final class TestMatrices {

    private TestMatrices() {}

    static float[] gaussian(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian();
        return v;
    }

    /** A row-major float32 matrix over a copy of {@code w} in {@code arena}. */
    static F32Matrix rowMajor(Arena arena, float[] w, int rows, int cols) {
        MemorySegment seg = arena.allocate((long) rows * cols * Float.BYTES);
        MemorySegment.copy(w, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
        return new F32Matrix(seg, rows, cols);
    }
}
