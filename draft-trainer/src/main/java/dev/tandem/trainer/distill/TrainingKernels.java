package dev.tandem.trainer.distill;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The dense products of training, single-threaded on float arrays (training runs on its own thread, so it
 * never competes for the serving pool): forward {@code y = x W^T}, and the two backward products
 * {@code dx += dy W} and {@code dW += dy^T x}. Row-major everywhere; W is [out, in].
 */
final class TrainingKernels {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    private TrainingKernels() {}

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector acc = FloatVector.zero(SPECIES);
        for (; i < upper; i += LANES) {
            acc = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    /** y[yOff..] += alpha * x[xOff..], n floats. */
    static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector a = FloatVector.broadcast(SPECIES, alpha);
        for (; i < upper; i += LANES) {
            FloatVector.fromArray(SPECIES, x, xOff + i).fma(a, FloatVector.fromArray(SPECIES, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
    }

    /** y[t, o] = dot(W[o], x[t]) for t < rows: x is rows x in, y is rows x out. */
    static void matmul(float[] x, int rows, int in, float[] w, int out, float[] y) {
        for (int o = 0; o < out; o++) {
            int wOff = o * in;
            for (int t = 0; t < rows; t++) y[t * out + o] = dot(w, wOff, x, t * in, in);
        }
    }

    /** dx[t] += sum over o of dy[t, o] W[o]: dy is rows x out, dx is rows x in. Zero gradients are skipped. */
    static void backInput(float[] dy, int rows, int out, float[] w, int in, float[] dx) {
        for (int t = 0; t < rows; t++) {
            int dyOff = t * out;
            int dxOff = t * in;
            for (int o = 0; o < out; o++) {
                float g = dy[dyOff + o];
                if (g != 0f) axpy(g, w, o * in, dx, dxOff, in);
            }
        }
    }

    /** dW[o] += sum over t of dy[t, o] x[t]. Zero gradients are skipped. */
    static void backWeight(float[] dy, int rows, int out, float[] x, int in, float[] dw) {
        for (int o = 0; o < out; o++) {
            int dwOff = o * in;
            for (int t = 0; t < rows; t++) {
                float g = dy[t * out + o];
                if (g != 0f) axpy(g, x, t * in, dw, dwOff, in);
            }
        }
    }

    /** RMSNorm as the engine computes it: out = weight * (x * inv), inv = 1 / sqrt(mean(x^2) + eps); returns inv. */
    static float rmsNorm(float[] x, int xOff, float[] weight, float[] out, int outOff, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        ss = ss / n + eps;
        float inv = (float) (1.0 / Math.sqrt(ss));
        for (int i = 0; i < n; i++) out[outOff + i] = weight[i] * (inv * x[xOff + i]);
        return inv;
    }

    /**
     * Backward of {@link #rmsNorm}: given dy, adds dweight += dy * x * inv and dx += inv * (dxhat - xhat * mean(dxhat * xhat))
     * with xhat = x * inv and dxhat = dy * weight.
     */
    static void rmsNormBackward(float[] x, int xOff, float inv, float[] weight, float[] dy, int dyOff, float[] dWeight,
                                float[] dx, int dxOff, int n) {
        double mean = 0;
        for (int i = 0; i < n; i++) {
            float xhat = x[xOff + i] * inv;
            float dxhat = dy[dyOff + i] * weight[i];
            dWeight[i] += dy[dyOff + i] * xhat;
            mean += (double) dxhat * xhat;
        }
        float m = (float) (mean / n);
        for (int i = 0; i < n; i++) {
            float xhat = x[xOff + i] * inv;
            float dxhat = dy[dyOff + i] * weight[i];
            dx[dxOff + i] += inv * (dxhat - xhat * m);
        }
    }
}
