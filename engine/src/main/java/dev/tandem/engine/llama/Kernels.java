package dev.tandem.engine.llama;

import dev.tandem.engine.tensor.Exponentials;
import dev.tandem.engine.tensor.LaneSums;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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

    /**
     * Attention scores of the {@link KvCache#PAGE_POSITIONS} slots of one page against one head's query:
     * {@code scores[sOff + s] = scale * sum_i q[qOff + i] * page[keyCol + i * PAGE_POSITIONS + s]} (keys are
     * stored transposed, see {@link KvCache#keyBase}). One vector holds consecutive positions, so a page costs
     * one broadcast FMA per query component instead of a dot product and a lane reduction per position.
     * Four partial sums (components i mod 4) keep FMAs in flight; their order is fixed, so a score does not
     * depend on the batch. Slots past the sequence's length hold stale values and are to be ignored.
     */
    static void keyScores(float[] q, int qOff, float[] page, int keyCol, int headDim, float scale,
                          float[] scores, int sOff) {
        final int p = KvCache.PAGE_POSITIONS;
        if (p % LANES != 0) {
            for (int s = 0; s < p; s++) {
                float sum = 0f;
                for (int i = 0; i < headDim; i++) sum += q[qOff + i] * page[keyCol + i * p + s];
                scores[sOff + s] = sum * scale;
            }
            return;
        }
        int c = 0;
        // Two vectors of positions at a time: eight FMA chains instead of four; each score's partial sums and their
        // order are as one vector at a time would have them.
        for (; c + 2 * LANES <= p; c += 2 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int k = keyCol + c;
            int i = 0;
            for (; i + 4 <= headDim; i += 4, k += 4 * p) {
                FloatVector q0 = FloatVector.broadcast(SPECIES, q[qOff + i]);
                a0 = FloatVector.fromArray(SPECIES, page, k).fma(q0, a0);
                b0 = FloatVector.fromArray(SPECIES, page, k + LANES).fma(q0, b0);
                FloatVector q1 = FloatVector.broadcast(SPECIES, q[qOff + i + 1]);
                a1 = FloatVector.fromArray(SPECIES, page, k + p).fma(q1, a1);
                b1 = FloatVector.fromArray(SPECIES, page, k + p + LANES).fma(q1, b1);
                FloatVector q2 = FloatVector.broadcast(SPECIES, q[qOff + i + 2]);
                a2 = FloatVector.fromArray(SPECIES, page, k + 2 * p).fma(q2, a2);
                b2 = FloatVector.fromArray(SPECIES, page, k + 2 * p + LANES).fma(q2, b2);
                FloatVector q3 = FloatVector.broadcast(SPECIES, q[qOff + i + 3]);
                a3 = FloatVector.fromArray(SPECIES, page, k + 3 * p).fma(q3, a3);
                b3 = FloatVector.fromArray(SPECIES, page, k + 3 * p + LANES).fma(q3, b3);
            }
            for (; i < headDim; i++, k += p) {
                FloatVector qi = FloatVector.broadcast(SPECIES, q[qOff + i]);
                a0 = FloatVector.fromArray(SPECIES, page, k).fma(qi, a0);
                b0 = FloatVector.fromArray(SPECIES, page, k + LANES).fma(qi, b0);
            }
            a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(scores, sOff + c);
            b0.add(b1).add(b2.add(b3)).mul(scale).intoArray(scores, sOff + c + LANES);
        }
        for (; c < p; c += LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            int k = keyCol + c;
            int i = 0;
            for (; i + 4 <= headDim; i += 4, k += 4 * p) {
                a0 = FloatVector.fromArray(SPECIES, page, k).fma(FloatVector.broadcast(SPECIES, q[qOff + i]), a0);
                a1 = FloatVector.fromArray(SPECIES, page, k + p).fma(FloatVector.broadcast(SPECIES, q[qOff + i + 1]), a1);
                a2 = FloatVector.fromArray(SPECIES, page, k + 2 * p).fma(FloatVector.broadcast(SPECIES, q[qOff + i + 2]), a2);
                a3 = FloatVector.fromArray(SPECIES, page, k + 3 * p).fma(FloatVector.broadcast(SPECIES, q[qOff + i + 3]), a3);
            }
            for (; i < headDim; i++, k += p) {
                a0 = FloatVector.fromArray(SPECIES, page, k).fma(FloatVector.broadcast(SPECIES, q[qOff + i]), a0);
            }
            a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(scores, sOff + c);
        }
    }

    /**
     * {@code out[outOff + j] = sum over t < n of weights[t] * value_t[j]}, j < headDim, where value_t is at
     * {@code pages[t / PAGE_POSITIONS]} offset {@code valueCol + (t % PAGE_POSITIONS) * rowStride}. Adds in
     * position order with one FMA per position (as adding weight times value into zeros one position after another would), but keeps up to
     * six vectors of the output in registers across all positions instead of loading and storing them
     * for each one.
     */
    static void weightedValues(float[] weights, int n, float[][] pages, int valueCol, int rowStride,
                               float[] out, int outOff, int headDim) {
        final int p = KvCache.PAGE_POSITIONS;
        int j = 0;
        // Six vectors at a time where the head has them (stories15M: 48 = 6 x 8 lanes): six independent FMA chains
        // per position instead of three, which the FMA latency bounded; each output lane still adds in position order.
        for (; j + 6 * LANES <= headDim; j += 6 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
            for (int t0 = 0, page = 0; t0 < n; t0 += p, page++) {
                float[] values = pages[page];
                int slots = Math.min(p, n - t0);
                for (int s = 0, v = valueCol + j; s < slots; s++, v += rowStride) {
                    FloatVector w = FloatVector.broadcast(SPECIES, weights[t0 + s]);
                    a0 = FloatVector.fromArray(SPECIES, values, v).fma(w, a0);
                    a1 = FloatVector.fromArray(SPECIES, values, v + LANES).fma(w, a1);
                    a2 = FloatVector.fromArray(SPECIES, values, v + 2 * LANES).fma(w, a2);
                    a3 = FloatVector.fromArray(SPECIES, values, v + 3 * LANES).fma(w, a3);
                    a4 = FloatVector.fromArray(SPECIES, values, v + 4 * LANES).fma(w, a4);
                    a5 = FloatVector.fromArray(SPECIES, values, v + 5 * LANES).fma(w, a5);
                }
            }
            a0.intoArray(out, outOff + j);
            a1.intoArray(out, outOff + j + LANES);
            a2.intoArray(out, outOff + j + 2 * LANES);
            a3.intoArray(out, outOff + j + 3 * LANES);
            a4.intoArray(out, outOff + j + 4 * LANES);
            a5.intoArray(out, outOff + j + 5 * LANES);
        }
        for (; j + 3 * LANES <= headDim; j += 3 * LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0;
            for (int t0 = 0, page = 0; t0 < n; t0 += p, page++) {
                float[] values = pages[page];
                int slots = Math.min(p, n - t0);
                for (int s = 0, v = valueCol + j; s < slots; s++, v += rowStride) {
                    FloatVector w = FloatVector.broadcast(SPECIES, weights[t0 + s]);
                    a0 = FloatVector.fromArray(SPECIES, values, v).fma(w, a0);
                    a1 = FloatVector.fromArray(SPECIES, values, v + LANES).fma(w, a1);
                    a2 = FloatVector.fromArray(SPECIES, values, v + 2 * LANES).fma(w, a2);
                }
            }
            a0.intoArray(out, outOff + j);
            a1.intoArray(out, outOff + j + LANES);
            a2.intoArray(out, outOff + j + 2 * LANES);
        }
        for (; j + LANES <= headDim; j += LANES) {
            FloatVector a0 = FloatVector.zero(SPECIES);
            for (int t0 = 0, page = 0; t0 < n; t0 += p, page++) {
                float[] values = pages[page];
                int slots = Math.min(p, n - t0);
                for (int s = 0, v = valueCol + j; s < slots; s++, v += rowStride) {
                    a0 = FloatVector.fromArray(SPECIES, values, v).fma(FloatVector.broadcast(SPECIES, weights[t0 + s]), a0);
                }
            }
            a0.intoArray(out, outOff + j);
        }
        for (; j < headDim; j++) {
            float sum = 0f;
            for (int t = 0; t < n; t++) sum = Math.fma(pages[t / p][valueCol + (t % p) * rowStride + j], weights[t], sum); // as the lanes
            out[outOff + j] = sum;
        }
    }

    /** In-place softmax of {@code x[off .. off + n)}. */
    static void softmax(float[] x, int off, int n) {
        float max = x[off];
        for (int i = 1; i < n; i++) max = Math.max(max, x[off + i]);
        // Exponentials.expShifted's loop, here rather than called: in bench osd's JVM (six nodes, a busy JIT) C2 did not
        // inline that call into this method and left the callee in C1's code for the whole run, each vector operation
        // allocating (~180 MB a minute in the stages' attention, JFR).
        VectorSpecies<Float> species = Exponentials.SPECIES;
        int i = 0;
        for (int upper = species.loopBound(n); i < upper; i += species.length()) {
            DoubleVector wide = (DoubleVector) FloatVector.fromArray(species, x, off + i).sub(max)
                    .convertShape(VectorOperators.F2D, DoubleVector.SPECIES_PREFERRED, 0);
            ((FloatVector) wide.lanewise(VectorOperators.EXP).convertShape(VectorOperators.D2F, species, 0)).intoArray(x, off + i);
        }
        for (; i < n; i++) x[off + i] = (float) Math.exp(x[off + i] - max);
        float sum = 0f;
        for (i = 0; i < n; i++) sum += x[off + i]; // in order: the sum's rounding is run.c's
        float inv = 1f / sum;
        for (i = 0; i < n; i++) x[off + i] *= inv;
    }

    /** {@code gate[i] = silu(gate[i]) * up[i]} over {@code n} values (SwiGLU). */
    static void swiGlu(float[] gate, int gateOff, float[] up, int upOff, int n) {
        VectorSpecies<Float> species = Exponentials.SPECIES;
        int i = 0;
        for (int upper = species.loopBound(n); i < upper; i += species.length()) {
            FloatVector g = FloatVector.fromArray(species, gate, gateOff + i);
            // The exponential written out as in Exponentials.expShifted, for the reason softmax gives.
            DoubleVector wide = (DoubleVector) g.neg().convertShape(VectorOperators.F2D, DoubleVector.SPECIES_PREFERRED, 0);
            FloatVector e = (FloatVector) wide.lanewise(VectorOperators.EXP).convertShape(VectorOperators.D2F, species, 0);
            g.div(e.add(1f)).mul(FloatVector.fromArray(species, up, upOff + i)).intoArray(gate, gateOff + i);
        }
        for (; i < n; i++) {
            float g = gate[gateOff + i];
            gate[gateOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }
}
