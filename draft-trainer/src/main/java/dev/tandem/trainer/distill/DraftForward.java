package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftLayerParameters;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.trainer.idle.TrainingCheckpoint;

/**
 * The draft's forward pass over a whole token sequence (teacher forcing: row t sees tokens 0..t), the same
 * function as the engine's LlamaStage runs for drafting (RMSNorm, RoPE on adjacent pairs, grouped-query
 * causal attention, SwiGLU, final norm, reduced-vocabulary head), keeping what {@link DraftBackward} needs.
 * Logits are computed only for the rows asked for. Not thread-safe; one per training thread.
 */
public final class DraftForward {

    private final DraftConfig config;
    private final RopeTable rope;
    private final float attentionScale;
    /** {@link #forward}'s packed copy, made on first use. */
    private PackedDraftWeights ownPacked;
    private DraftActivations acts;
    /**
     * Added to the embedded input rows (row-major, at least rows x dim) when set: an input besides the tokens, for
     * experiments with drafts that read features of the target (FeatureDraftProbe).
     */
    float[] inputAddend;

    public DraftForward(DraftConfig config) {
        this.config = config;
        this.rope = new RopeTable(config);
        this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
    }

    public DraftConfig config() { return config; }

    /**
     * Runs tokens[0 .. length) and computes the head at each row of {@code logitRows[0 .. logitCount)}
     * (increasing). Returns the activations (valid until the next call); logits are row-major
     * logitCount x headSize. Packs p's matrices first, into a copy of its own (see {@link #forwardPacked}).
     */
    DraftActivations forward(DraftParameters p, int[] tokens, int length, int[] logitRows, int logitCount) {
        if (ownPacked == null) ownPacked = new PackedDraftWeights(config);
        ownPacked.pack(p);
        return forwardPacked(ownPacked, p, tokens, length, logitRows, logitCount);
    }

    /**
     * {@link #forward} with p's matrices as {@code packed} holds them: packed from p, whose weights have not changed
     * since (a training step packs once for its whole batch, and its shards share the copy).
     */
    DraftActivations forwardPacked(PackedDraftWeights packed, DraftParameters p, int[] tokens, int length, int[] logitRows, int logitCount) {
        if (!packed.packedFrom(p)) throw new IllegalStateException("the matrices packed are not these parameters'");
        if (length < 1 || length > config.seqLen()) throw new IllegalArgumentException("sequence of " + length + " tokens, context " + config.seqLen());
        if (acts == null || acts.capacity < length) acts = new DraftActivations(config, Math.min(config.seqLen(), Math.max(length, 2 * (acts == null ? 32 : acts.capacity))));
        DraftActivations a = acts;
        a.rows = length;
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        float[] x = a.xOut;
        for (int t = 0; t < length; t++) {
            int token = tokens[t];
            if (token < 0 || token >= config.vocabSize()) throw new IllegalArgumentException("token " + token + " outside the vocabulary");
            a.tokens[t] = token;
            System.arraycopy(p.embedding(), token * dim, x, t * dim, dim);
        }
        if (inputAddend != null) for (int i = 0; i < length * dim; i++) x[i] += inputAddend[i];
        for (int l = 0; l < config.nLayers(); l++) {
            DraftLayerParameters w = p.layers().get(l);
            DraftActivations.Layer s = a.layers[l];
            System.arraycopy(x, 0, s.xIn, 0, length * dim);
            for (int t = 0; t < length; t++) s.inv1[t] = TrainingKernels.rmsNorm(x, t * dim, w.attnNorm(), s.n1, t * dim, dim, config.normEps());
            TrainingCheckpoint.check();
            TrainingKernels.matmul(s.n1, length, packed.wq(l), s.q);
            TrainingKernels.matmul(s.n1, length, packed.wk(l), s.k);
            TrainingKernels.matmul(s.n1, length, packed.wv(l), s.v);
            for (int t = 0; t < length; t++) {
                rope.rotate(s.q, t * dim, dim, t, false);
                rope.rotate(s.k, t * kvDim, kvDim, t, false);
            }
            TrainingCheckpoint.check();
            attention(s, length);
            float[] projected = scratch(length * dim);
            TrainingKernels.matmul(s.o, length, packed.wo(l), projected);
            for (int i = 0; i < length * dim; i++) x[i] += projected[i];
            System.arraycopy(x, 0, s.xMid, 0, length * dim);
            for (int t = 0; t < length; t++) s.inv2[t] = TrainingKernels.rmsNorm(x, t * dim, w.ffnNorm(), s.n2, t * dim, dim, config.normEps());
            TrainingCheckpoint.check();
            TrainingKernels.matmul(s.n2, length, packed.w1(l), s.gate);
            TrainingKernels.matmul(s.n2, length, packed.w3(l), s.up);
            for (int i = 0; i < length * hidden; i++) {
                float g = s.gate[i];
                float e = (float) Math.exp(-g);
                s.expNegGate[i] = e;
                s.act[i] = g / (1f + e) * s.up[i];
            }
            TrainingCheckpoint.check();
            TrainingKernels.matmul(s.act, length, packed.w2(l), projected);
            for (int i = 0; i < length * dim; i++) x[i] += projected[i];
        }
        a.ensureLogitRows(logitCount);
        a.logitCount = logitCount;
        for (int i = 0; i < logitCount; i++) {
            int r = logitRows[i];
            if (r < 0 || r >= length || (i > 0 && r <= logitRows[i - 1])) throw new IllegalArgumentException("bad logit row " + r);
            a.logitRows[i] = r;
            a.finalInv[i] = TrainingKernels.rmsNorm(x, r * dim, p.finalNorm(), a.finalNormed, i * dim, dim, config.normEps());
        }
        TrainingCheckpoint.check();
        TrainingKernels.matmul(a.finalNormed, logitCount, packed.output(), a.logits);
        return a;
    }

    /** Logits of one model at the given rows, as a convenience for evaluation (row-major count x headSize, a copy). */
    public float[] logits(DraftModel model, int[] tokens, int length, int[] logitRows, int logitCount) {
        DraftActivations a = forward(model.parameters(), tokens, length, logitRows, logitCount);
        return java.util.Arrays.copyOf(a.logits, logitCount * config.headSize());
    }

    /**
     * Makes the next {@link #logitsOfUnchanged} pack the weights again, even of the same parameters: a forward reused
     * for another evaluation, whose draft may be the same object trained further since.
     */
    public void weightsChanged() {
        if (ownPacked != null) ownPacked.forget();
    }

    /**
     * {@link #logits} for a model whose weights do not change between this forward's calls (a draft under
     * evaluation): its matrices are packed on the first call and reused after, where {@code logits} packs them again
     * every time (a 1-layer stories15M draft's 6.3 MB for every held-out sample). The logits are row-major,
     * {@code logitCount x headSize} at the start of the returned array (which may be longer), in this forward's own
     * buffer: valid until its next call. A copy per held-out sample was the trainer's largest allocation while
     * serving (~5 MB/s in `bench osd`), which shortens the time between the serving node's collections.
     */
    public float[] logitsOfUnchanged(DraftModel model, int[] tokens, int length, int[] logitRows, int logitCount) {
        if (ownPacked == null) ownPacked = new PackedDraftWeights(config);
        if (!ownPacked.packedFrom(model.parameters())) ownPacked.pack(model.parameters());
        return forwardPacked(ownPacked, model.parameters(), tokens, length, logitRows, logitCount).logits;
    }

    private void attention(DraftActivations.Layer s, int length) {
        int dim = config.dim();
        int kvDim = config.kvDim();
        int headDim = config.headDim();
        int nHeads = config.nHeads();
        int kvMul = nHeads / config.nKvHeads();
        for (int t = 0; t < length; t++) {
            for (int h = 0; h < nHeads; h++) {
                int qOff = t * dim + h * headDim;
                int kvOff = (h / kvMul) * headDim;
                int aOff = (t * nHeads + h) * length;
                float max = Float.NEGATIVE_INFINITY;
                for (int u = 0; u <= t; u++) {
                    float score = TrainingKernels.dot(s.q, qOff, s.k, u * kvDim + kvOff, headDim) * attentionScale;
                    s.att[aOff + u] = score;
                    if (score > max) max = score;
                }
                float sum = 0f;
                for (int u = 0; u <= t; u++) {
                    float e = (float) Math.exp(s.att[aOff + u] - max);
                    s.att[aOff + u] = e;
                    sum += e;
                }
                float inv = 1f / sum;
                java.util.Arrays.fill(s.o, qOff, qOff + headDim, 0f);
                for (int u = 0; u <= t; u++) {
                    s.att[aOff + u] *= inv;
                    TrainingKernels.axpy(s.att[aOff + u], s.v, u * kvDim + kvOff, s.o, qOff, headDim);
                }
            }
        }
    }

    private float[] scratch;

    private float[] scratch(int n) {
        if (scratch == null || scratch.length < n) scratch = new float[n];
        return scratch;
    }

}
