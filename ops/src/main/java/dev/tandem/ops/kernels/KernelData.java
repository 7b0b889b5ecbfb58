package dev.tandem.ops.kernels;

import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.PackedF32Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Reproducible random inputs for the kernel benchmarks. */
final class KernelData {

    private KernelData() {}

    /** A random rows x cols matrix packed off the heap, as a stage holds its weights (64-byte aligned). */
    static PackedF32Matrix packedGaussian(int rows, int cols, long seed) {
        float[] w = gaussian(rows * cols, seed);
        MemorySegment dst = Arena.ofAuto().allocate(PackedF32Matrix.packedBytes(rows, cols), 64);
        return PackedF32Matrix.pack(new F32Matrix(MemorySegment.ofArray(w), rows, cols), dst);
    }

    static float[] gaussian(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
