package dev.tandem.ops.kernels;

import java.util.SplittableRandom;

/** Reproducible random inputs for the kernel benchmarks. */
final class KernelData {

    private KernelData() {}

    static float[] gaussian(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
