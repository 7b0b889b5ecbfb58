package dev.tandem.trainer.distill;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tensor.LaneSums;
import dev.tandem.engine.tensor.PackedF32Matrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The dense products of training on float arrays: forward {@code y = x W^T} (W packed, see {@link PackedDraftWeights}),
 * and the two backward products {@code dx += dy W} and {@code dW += dy^T x} (W and dW row-major [out, in]). A
 * product big enough is split over the calling thread's {@link TrainingParallelism} pool when one is installed; while
 * a batch's shards run on that pool (see {@link Distiller}), each shard's products stay on its thread.
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
     * y[t, o] = dot(W[o], x[t]) for t < rows: x is rows x in, y is rows x out, W (out x in) packed in the engine's
     * layout ({@link PackedDraftWeights}). Every output adds its products in the packed kernels' one order (a fused
     * multiply-add per column), whatever the batch or thread piece, so the result is what the engine computes for
     * the same packed weights: the draft a coordinator serves from its packed copy.
     */
    static void matmul(float[] x, int rows, PackedF32Matrix w, float[] y) {
        int in = w.cols(), out = w.rows();
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) w.matmul(x, 0, in, rows, y, 0, out, 0, out);
        else runner.forRange(out, (from, to) -> w.matmul(x, 0, in, rows, y, 0, out, from, to));
    }

    /** dx[t] += sum over o of dy[t, o] W[o]: dy is rows x out, dx is rows x in. */
    static void backInput(float[] dy, int rows, int out, float[] w, int in, float[] dx) {
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) accumulate(dx, 0, rows, w, out, in, dy, out, 1);
        else runner.forRange(rows, PAIR, (from, to) -> accumulate(dx, from, to, w, out, in, dy, out, 1));
    }

    /** dW[o] += sum over t of dy[t, o] x[t]: dy is rows x out, x is rows x in, dW is out x in. */
    static void backWeight(float[] dy, int rows, int out, float[] x, int in, float[] dw) {
        ParallelRunner runner = TrainingParallelism.forWork((long) rows * in * out);
        if (runner == null) accumulate(dw, 0, out, x, rows, in, dy, 1, out);
        else runner.forRange(out, (from, to) -> accumulate(dw, from, to, x, rows, in, dy, 1, out));
    }

    /** Rows of the destination one pass updates together: each source vector loaded feeds both. */
    private static final int PAIR = 2;

    /**
     * The form both backward products share: y[r] += sum over c < aRows of g(r, c) a[c] for r in [from, to), rows
     * of n floats, with g(r, c) = g[r * gRow + c * gCol]. Two destination rows and {@link #BLOCK} source rows at a
     * time (4 loads and 2 loads and stores of y per 8 FMAs; one row at a time took 6 per 4). Each y element adds
     * its terms in source-row order whatever the blocking, so the sums are those of one axpy per term. Blocks
     * whose coefficients are all zero are skipped.
     */
    private static void accumulate(float[] y, int from, int to, float[] a, int aRows, int n, float[] g, int gRow, int gCol) {
        int r = from;
        for (; r + PAIR <= to; r += PAIR) {
            int g0 = r * gRow, g1 = g0 + gRow;
            int y0 = r * n, y1 = y0 + n;
            int c = 0;
            for (; c + BLOCK <= aRows; c += BLOCK) {
                int gc = c * gCol;
                float p0 = g[g0 + gc], p1 = g[g0 + gc + gCol], p2 = g[g0 + gc + 2 * gCol], p3 = g[g0 + gc + 3 * gCol];
                float q0 = g[g1 + gc], q1 = g[g1 + gc + gCol], q2 = g[g1 + gc + 2 * gCol], q3 = g[g1 + gc + 3 * gCol];
                boolean first = p0 != 0f || p1 != 0f || p2 != 0f || p3 != 0f;
                boolean second = q0 != 0f || q1 != 0f || q2 != 0f || q3 != 0f;
                if (first && second) axpy4x2(p0, p1, p2, p3, q0, q1, q2, q3, a, c * n, n, y, y0, y1, n);
                else if (first) axpy4(p0, p1, p2, p3, a, c * n, n, y, y0, n);
                else if (second) axpy4(q0, q1, q2, q3, a, c * n, n, y, y1, n);
            }
            for (; c < aRows; c++) {
                float p = g[g0 + c * gCol], q = g[g1 + c * gCol];
                if (p != 0f) axpy(p, a, c * n, y, y0, n);
                if (q != 0f) axpy(q, a, c * n, y, y1, n);
            }
        }
        for (; r < to; r++) {
            int g0 = r * gRow;
            int y0 = r * n;
            int c = 0;
            for (; c + BLOCK <= aRows; c += BLOCK) {
                int gc = c * gCol;
                float p0 = g[g0 + gc], p1 = g[g0 + gc + gCol], p2 = g[g0 + gc + 2 * gCol], p3 = g[g0 + gc + 3 * gCol];
                if (p0 != 0f || p1 != 0f || p2 != 0f || p3 != 0f) axpy4(p0, p1, p2, p3, a, c * n, n, y, y0, n);
            }
            for (; c < aRows; c++) {
                float p = g[g0 + c * gCol];
                if (p != 0f) axpy(p, a, c * n, y, y0, n);
            }
        }
    }

    /** {@link #axpy4} into two destination rows y[y0..] (coefficients p) and y[y1..] (coefficients q) at once. */
    private static void axpy4x2(float p0, float p1, float p2, float p3, float q0, float q1, float q2, float q3,
                                float[] a, int aOff, int stride, float[] y, int y0, int y1, int n) {
        int a0 = aOff, a1 = a0 + stride, a2 = a1 + stride, a3 = a2 + stride;
        FloatVector u0 = FloatVector.broadcast(SPECIES, p0), u1 = FloatVector.broadcast(SPECIES, p1);
        FloatVector u2 = FloatVector.broadcast(SPECIES, p2), u3 = FloatVector.broadcast(SPECIES, p3);
        FloatVector v0 = FloatVector.broadcast(SPECIES, q0), v1 = FloatVector.broadcast(SPECIES, q1);
        FloatVector v2 = FloatVector.broadcast(SPECIES, q2), v3 = FloatVector.broadcast(SPECIES, q3);
        int i = 0;
        int upper = SPECIES.loopBound(n);
        for (; i < upper; i += LANES) {
            FloatVector s = FloatVector.fromArray(SPECIES, y, y0 + i);
            FloatVector t = FloatVector.fromArray(SPECIES, y, y1 + i);
            FloatVector w = FloatVector.fromArray(SPECIES, a, a0 + i);
            s = w.fma(u0, s);
            t = w.fma(v0, t);
            w = FloatVector.fromArray(SPECIES, a, a1 + i);
            s = w.fma(u1, s);
            t = w.fma(v1, t);
            w = FloatVector.fromArray(SPECIES, a, a2 + i);
            s = w.fma(u2, s);
            t = w.fma(v2, t);
            w = FloatVector.fromArray(SPECIES, a, a3 + i);
            s = w.fma(u3, s);
            t = w.fma(v3, t);
            s.intoArray(y, y0 + i);
            t.intoArray(y, y1 + i);
        }
        for (; i < n; i++) {
            y[y0 + i] += p0 * a[a0 + i] + p1 * a[a1 + i] + p2 * a[a2 + i] + p3 * a[a3 + i];
            y[y1 + i] += q0 * a[a0 + i] + q1 * a[a1 + i] + q2 * a[a2 + i] + q3 * a[a3 + i];
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
