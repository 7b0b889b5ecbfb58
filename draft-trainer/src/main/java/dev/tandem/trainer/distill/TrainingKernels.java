package dev.tandem.trainer.distill;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tensor.LaneSums;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The dense products of training on float arrays, split over the training thread's {@link TrainingParallelism}
 * pool when one is installed (training runs only while serving leaves the node idle): forward {@code y = x W^T}, and the two backward products
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
        // A fixed order (reduceLanes' differs between the interpreter and C2), as the engine's kernels add.
        float sum = LaneSums.sum(acc);
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

    /** Products smaller than this many multiply-adds stay on the calling thread (a hand-off costs microseconds). */
    static final long PARALLEL_WORK = 1 << 18;

    /** Gradient rows folded into one pass over the destination: it is loaded and stored once per four. */
    private static final int BLOCK = 4;

    /**
     * y[t, o] = dot(W[o], x[t]) for t < rows: x is rows x in, y is rows x out. (Four rows of x per weight row
     * measured 8x slower: C2 boxed the four accumulators.)
     */
    static void matmul(float[] x, int rows, int in, float[] w, int out, float[] y) {
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) matmulRows(x, rows, in, w, out, y, 0, out);
        else runner.forRange(out, (from, to) -> matmulRows(x, rows, in, w, out, y, from, to));
    }

    private static void matmulRows(float[] x, int rows, int in, float[] w, int out, float[] y, int from, int to) {
        for (int o = from; o < to; o++) {
            int wOff = o * in;
            for (int t = 0; t < rows; t++) y[t * out + o] = dot(w, wOff, x, t * in, in);
        }
    }

    /**
     * dx[t] += sum over o of dy[t, o] W[o]: dy is rows x out, dx is rows x in. Four weight rows at a time, so a
     * dx vector is loaded and stored once per four; groups of zero gradients are skipped.
     */
    static void backInput(float[] dy, int rows, int out, float[] w, int in, float[] dx) {
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) backInputRows(dy, out, w, in, dx, 0, rows);
        else runner.forRange(rows, 1, (from, to) -> backInputRows(dy, out, w, in, dx, from, to));
    }

    private static void backInputRows(float[] dy, int out, float[] w, int in, float[] dx, int from, int to) {
        for (int t = from; t < to; t++) {
            int dyOff = t * out;
            int dxOff = t * in;
            int o = 0;
            for (; o + BLOCK <= out; o += BLOCK) {
                float g0 = dy[dyOff + o], g1 = dy[dyOff + o + 1], g2 = dy[dyOff + o + 2], g3 = dy[dyOff + o + 3];
                if (g0 == 0f && g1 == 0f && g2 == 0f && g3 == 0f) continue;
                axpy4(g0, g1, g2, g3, w, o * in, in, dx, dxOff, in);
            }
            for (; o < out; o++) {
                float g = dy[dyOff + o];
                if (g != 0f) axpy(g, w, o * in, dx, dxOff, in);
            }
        }
    }

    /** dW[o] += sum over t of dy[t, o] x[t]. Four rows of x at a time; groups of zero gradients are skipped. */
    static void backWeight(float[] dy, int rows, int out, float[] x, int in, float[] dw) {
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) backWeightRows(dy, rows, out, x, in, dw, 0, out);
        else runner.forRange(out, (from, to) -> backWeightRows(dy, rows, out, x, in, dw, from, to));
    }

    private static void backWeightRows(float[] dy, int rows, int out, float[] x, int in, float[] dw, int from, int to) {
        for (int o = from; o < to; o++) {
            int dwOff = o * in;
            int t = 0;
            for (; t + BLOCK <= rows; t += BLOCK) {
                float g0 = dy[t * out + o], g1 = dy[(t + 1) * out + o], g2 = dy[(t + 2) * out + o], g3 = dy[(t + 3) * out + o];
                if (g0 == 0f && g1 == 0f && g2 == 0f && g3 == 0f) continue;
                axpy4(g0, g1, g2, g3, x, t * in, in, dw, dwOff, in);
            }
            for (; t < rows; t++) {
                float g = dy[t * out + o];
                if (g != 0f) axpy(g, x, t * in, dw, dwOff, in);
            }
        }
    }

    /** y[yOff..] += g0 a[aOff..] + g1 a[aOff + stride..] + g2 a[aOff + 2 stride..] + g3 a[aOff + 3 stride..], n floats. */
    private static void axpy4(float g0, float g1, float g2, float g3, float[] a, int aOff, int stride, float[] y, int yOff, int n) {
        int a0 = aOff, a1 = a0 + stride, a2 = a1 + stride, a3 = a2 + stride;
        FloatVector v0 = FloatVector.broadcast(SPECIES, g0), v1 = FloatVector.broadcast(SPECIES, g1);
        FloatVector v2 = FloatVector.broadcast(SPECIES, g2), v3 = FloatVector.broadcast(SPECIES, g3);
        int i = 0;
        int upper = SPECIES.loopBound(n);
        for (; i < upper; i += LANES) {
            FloatVector acc = FloatVector.fromArray(SPECIES, y, yOff + i);
            acc = FloatVector.fromArray(SPECIES, a, a0 + i).fma(v0, acc);
            acc = FloatVector.fromArray(SPECIES, a, a1 + i).fma(v1, acc);
            acc = FloatVector.fromArray(SPECIES, a, a2 + i).fma(v2, acc);
            acc = FloatVector.fromArray(SPECIES, a, a3 + i).fma(v3, acc);
            acc.intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += g0 * a[a0 + i] + g1 * a[a1 + i] + g2 * a[a2 + i] + g3 * a[a3 + i];
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
