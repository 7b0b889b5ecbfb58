package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float dot products of a decoded weight row with activation rows: the inner loop of the matrices
 * that decode a row first. {@link #dot4} runs four activation rows at once so that four independent
 * FMA chains hide the FMA latency; each of its results is bit-identical to {@link #dot} of that row
 * (same operations, same order), so batching never changes a result.
 */
final class VectorDot {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private VectorDot() {}

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float sum = LaneSums.sum(acc);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /** {@code out[outOff + j*outStride] = dot(a, b row j)} for the four rows at {@code bOff + j*bStride}. */
    static void dot4(float[] a, int aOff, float[] b, int bOff, int bStride, int n, float[] out, int outOff, int outStride) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int b0 = bOff, b1 = bOff + bStride, b2 = bOff + 2 * bStride, b3 = bOff + 3 * bStride;
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector w = FloatVector.fromArray(F, a, aOff + i);
            acc0 = w.fma(FloatVector.fromArray(F, b, b0 + i), acc0);
            acc1 = w.fma(FloatVector.fromArray(F, b, b1 + i), acc1);
            acc2 = w.fma(FloatVector.fromArray(F, b, b2 + i), acc2);
            acc3 = w.fma(FloatVector.fromArray(F, b, b3 + i), acc3);
        }
        float s0 = LaneSums.sum(acc0), s1 = LaneSums.sum(acc1), s2 = LaneSums.sum(acc2), s3 = LaneSums.sum(acc3);
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[b0 + i];
            s1 += a[aOff + i] * b[b1 + i];
            s2 += a[aOff + i] * b[b2 + i];
            s3 += a[aOff + i] * b[b3 + i];
        }
        out[outOff] = s0;
        out[outOff + outStride] = s1;
        out[outOff + 2 * outStride] = s2;
        out[outOff + 3 * outStride] = s3;
    }
}
