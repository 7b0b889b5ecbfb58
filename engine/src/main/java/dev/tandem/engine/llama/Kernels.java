package dev.tandem.engine.llama;

import dev.tandem.engine.tensor.LaneSums;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** Small vector kernels of the forward pass over heap arrays (the big matrix products live in the matrices). */
final class Kernels {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    private Kernels() {}

    /** {@code out = weight * x / rms(x)} over {@code n} values, as llama2.c's rmsnorm. */
    static void rmsNorm(float[] x, int xOff, float[] weight, float[] out, int outOff, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        ss = ss / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector s = FloatVector.broadcast(SPECIES, inv);
        for (; i < upper; i += LANES) {
            FloatVector v = FloatVector.fromArray(SPECIES, x, xOff + i).mul(s);
            FloatVector.fromArray(SPECIES, weight, i).mul(v).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = weight[i] * (inv * x[xOff + i]);
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector acc = FloatVector.zero(SPECIES);
        for (; i < upper; i += LANES) {
            acc = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc);
        }
        float sum = LaneSums.sum(acc);
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    /** {@code y += a * x} over {@code n} values. */
    static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector va = FloatVector.broadcast(SPECIES, a);
        for (; i < upper; i += LANES) {
            FloatVector.fromArray(SPECIES, x, xOff + i).fma(va, FloatVector.fromArray(SPECIES, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** {@code y += x} over {@code n} values. */
    static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        for (; i < upper; i += LANES) {
            FloatVector.fromArray(SPECIES, x, xOff + i).add(FloatVector.fromArray(SPECIES, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += x[xOff + i];
    }

    /** In-place softmax of {@code x[off .. off + n)}. */
    static void softmax(float[] x, int off, int n) {
        float max = x[off];
        for (int i = 1; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }

    /** {@code gate[i] = silu(gate[i]) * up[i]} over {@code n} values (SwiGLU). */
    static void swiGlu(float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gateOff + i];
            gate[gateOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }

    static void fill(float[] x, int off, int n, float value) {
        java.util.Arrays.fill(x, off, off + n, value);
    }
}
