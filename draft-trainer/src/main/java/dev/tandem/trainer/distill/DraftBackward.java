package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftLayerParameters;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.trainer.idle.TrainingCheckpoint;

/**
 * The backward pass of {@link DraftForward}: from the gradient of the loss with respect to the logits of
 * the computed rows, accumulates the gradient of every parameter (embedding rows, norms, attention and
 * feed-forward matrices, final norm, head) into a {@link DraftGradients}. Not thread-safe.
 */
public final class DraftBackward {

    private final DraftConfig config;
    private final RopeTable rope;
    private final float attentionScale;
    private float[] dx = new float[0];
    private float[] dn = new float[0];
    private float[] dq = new float[0];
    private float[] dk = new float[0];
    private float[] dv = new float[0];
    private float[] dO = new float[0];
    private float[] dGate = new float[0];
    private float[] dUp = new float[0];
    private float[] dAct = new float[0];
    private float[] dScores = new float[0];
    /** Gradient at the final norm's output, logit rows x dim (grown, never shrunk: no allocation per step). */
    private float[] dFinal = new float[0];

    public DraftBackward(DraftConfig config) {
        this.config = config;
        this.rope = new RopeTable(config);
        this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
    }

    /** dLogits is row-major logitCount x headSize, for the rows of the last forward {@code a}. */
    void backward(DraftParameters p, DraftActivations a, float[] dLogits, DraftGradients gradients) {
        int rows = a.rows;
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        ensure(rows);
        DraftParameters g = gradients.values();
        java.util.Arrays.fill(dx, 0, rows * dim, 0f);

        // Head and final norm, only at the rows with logits.
        if (dFinal.length < a.logitCount * dim) dFinal = new float[a.logitCount * dim];
        java.util.Arrays.fill(dFinal, 0, a.logitCount * dim, 0f);
        TrainingKernels.backWeight(dLogits, a.logitCount, config.headSize(), a.finalNormed, dim, g.output());
        TrainingCheckpoint.check();
        TrainingKernels.backInput(dLogits, a.logitCount, config.headSize(), p.output(), dim, dFinal);
        for (int i = 0; i < a.logitCount; i++) {
            int r = a.logitRows[i];
            TrainingKernels.rmsNormBackward(a.xOut, r * dim, a.finalInv[i], p.finalNorm(), dFinal, i * dim, g.finalNorm(), dx, r * dim, dim);
        }

        for (int l = config.nLayers() - 1; l >= 0; l--) {
            DraftLayerParameters w = p.layers().get(l);
            DraftLayerParameters gw = g.layers().get(l);
            DraftActivations.Layer s = a.layers[l];

            // Feed-forward: x += w2 (silu(w1 n2) * (w3 n2)), n2 = rmsnorm(xMid).
            java.util.Arrays.fill(dAct, 0, rows * hidden, 0f);
            TrainingCheckpoint.check();
            TrainingKernels.backWeight(dx, rows, dim, s.act, hidden, gw.w2());
            TrainingKernels.backInput(dx, rows, dim, w.w2(), hidden, dAct);
            for (int i = 0; i < rows * hidden; i++) {
                float gate = s.gate[i];
                float sigmoid = 1f / (1f + s.expNegGate[i]);
                float silu = gate * sigmoid;
                dUp[i] = dAct[i] * silu;
                dGate[i] = dAct[i] * s.up[i] * sigmoid * (1f + gate * (1f - sigmoid));
            }
            TrainingCheckpoint.check();
            TrainingKernels.backWeight(dGate, rows, hidden, s.n2, dim, gw.w1());
            TrainingKernels.backWeight(dUp, rows, hidden, s.n2, dim, gw.w3());
            TrainingCheckpoint.check();
            java.util.Arrays.fill(dn, 0, rows * dim, 0f);
            TrainingKernels.backInput(dGate, rows, hidden, w.w1(), dim, dn);
            TrainingKernels.backInput(dUp, rows, hidden, w.w3(), dim, dn);
            for (int t = 0; t < rows; t++) {
                TrainingKernels.rmsNormBackward(s.xMid, t * dim, s.inv2[t], w.ffnNorm(), dn, t * dim, gw.ffnNorm(), dx, t * dim, dim);
            }

            // Attention: x += wo o, o = softmax(q k^T * scale) v, q k v from n1 = rmsnorm(xIn).
            TrainingCheckpoint.check();
            TrainingKernels.backWeight(dx, rows, dim, s.o, dim, gw.wo());
            java.util.Arrays.fill(dO, 0, rows * dim, 0f);
            TrainingKernels.backInput(dx, rows, dim, w.wo(), dim, dO);
            TrainingCheckpoint.check();
            attentionBackward(s, rows);
            for (int t = 0; t < rows; t++) {
                rope.rotate(dq, t * dim, dim, t, true);
                rope.rotate(dk, t * kvDim, kvDim, t, true);
            }
            TrainingCheckpoint.check();
            TrainingKernels.backWeight(dq, rows, dim, s.n1, dim, gw.wq());
            TrainingKernels.backWeight(dk, rows, kvDim, s.n1, dim, gw.wk());
            TrainingKernels.backWeight(dv, rows, kvDim, s.n1, dim, gw.wv());
            TrainingCheckpoint.check();
            java.util.Arrays.fill(dn, 0, rows * dim, 0f);
            TrainingKernels.backInput(dq, rows, dim, w.wq(), dim, dn);
            TrainingKernels.backInput(dk, rows, kvDim, w.wk(), dim, dn);
            TrainingKernels.backInput(dv, rows, kvDim, w.wv(), dim, dn);
            for (int t = 0; t < rows; t++) {
                TrainingKernels.rmsNormBackward(s.xIn, t * dim, s.inv1[t], w.attnNorm(), dn, t * dim, gw.attnNorm(), dx, t * dim, dim);
            }
        }

        if (!gradients.hasEmbedding()) return;
        for (int t = 0; t < rows; t++) {
            int token = a.tokens[t];
            gradients.touchRow(token);
            TrainingKernels.axpy(1f, dx, t * dim, g.embedding(), token * dim, dim);
        }
    }

    /** The gradient of the loss with respect to the input rows (after the embedding) of the last backward pass. */
    float[] inputGradient() { return dx; }

    private void attentionBackward(DraftActivations.Layer s, int rows) {
        int dim = config.dim();
        int kvDim = config.kvDim();
        int headDim = config.headDim();
        int nHeads = config.nHeads();
        int kvMul = nHeads / config.nKvHeads();
        java.util.Arrays.fill(dq, 0, rows * dim, 0f);
        java.util.Arrays.fill(dk, 0, rows * kvDim, 0f);
        java.util.Arrays.fill(dv, 0, rows * kvDim, 0f);
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < nHeads; h++) {
                int qOff = t * dim + h * headDim;
                int kvOff = (h / kvMul) * headDim;
                int aOff = (t * nHeads + h) * rows;
                // dA[u] = dO . v[u]; dv[u] += A[u] dO; dS = A (dA - sum A dA).
                double weighted = 0;
                for (int u = 0; u <= t; u++) {
                    float attention = s.att[aOff + u];
                    float dA = TrainingKernels.dot(dO, qOff, s.v, u * kvDim + kvOff, headDim);
                    dScores[u] = dA;
                    weighted += (double) attention * dA;
                    TrainingKernels.axpy(attention, dO, qOff, dv, u * kvDim + kvOff, headDim);
                }
                float mean = (float) weighted;
                for (int u = 0; u <= t; u++) {
                    float dS = s.att[aOff + u] * (dScores[u] - mean) * attentionScale;
                    if (dS == 0f) continue;
                    TrainingKernels.axpy(dS, s.k, u * kvDim + kvOff, dq, qOff, headDim);
                    TrainingKernels.axpy(dS, s.q, qOff, dk, u * kvDim + kvOff, headDim);
                }
            }
        }
    }

    private void ensure(int rows) {
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        if (dx.length >= rows * dim) return;
        dx = new float[rows * dim];
        dn = new float[rows * dim];
        dq = new float[rows * dim];
        dk = new float[rows * kvDim];
        dv = new float[rows * kvDim];
        dO = new float[rows * dim];
        dGate = new float[rows * hidden];
        dUp = new float[rows * hidden];
        dAct = new float[rows * hidden];
        dScores = new float[rows];
    }
}
