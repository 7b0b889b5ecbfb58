package dev.tandem.engine.spec;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.SamplingDistribution;
import dev.tandem.engine.sampling.XorShiftRandom;

import java.util.Arrays;

/**
 * A proposer that drafts autoregressively with a small language model run by a {@link LlamaStage} (the
 * target's first layers, or a draft model), keeping its own KV cache for the sequence in the stage's
 * cache. Before drafting it resynchronizes with the history: cached positions past the common prefix of
 * what it fed and the history (rejected drafts) are truncated, and the missing history tokens are fed in
 * one multi-row forward. The stage's head may cover a reduced vocabulary: logit i is target token
 * {@code logitTokens[i]}, and tokens outside it are never proposed.
 *
 * <p>Under greedy decoding the draft's argmax is proposed (q one-hot); under sampling a token is drawn from
 * the draft's distribution with the target's temperature / top-k / top-p, and that q goes with it.
 */
abstract class StageProposer implements Proposer {

    private static final long DRAFT_SEED_SALT = 0x9E3779B97F4A7C15L;

    private final LlamaStage stage;
    private final ForwardBatch batch;
    private final long seqId;
    private final int[] logitTokens;
    private final int targetVocab;
    private final int width;
    private final SamplingDistribution distribution;
    private final XorShiftRandom random;
    private final float[] q;
    /** The tokens whose keys and values this proposer's cache holds, positions [0, fedLength). */
    private int[] fed = new int[64];
    private int fedLength;
    private int lastRowsFed;
    private long lastFirstDraftNanos = -1;

    /**
     * @param logitTokens target token of each logit (sorted, distinct), or null when the head covers the
     *                    target's whole vocabulary
     */
    StageProposer(LlamaStage stage, ForwardBatch batch, long seqId, int[] logitTokens, int targetVocab, SamplerSettings sampling) {
        if (!stage.isFirst() || !stage.isLast()) throw new IllegalArgumentException("a drafting stage runs a whole (draft) model");
        this.stage = stage;
        this.batch = batch;
        this.seqId = seqId;
        this.logitTokens = logitTokens;
        this.targetVocab = targetVocab;
        this.width = logitTokens == null ? targetVocab : logitTokens.length;
        this.distribution = sampling.isGreedy() ? null : new SamplingDistribution(sampling, width);
        // From the request's seed alone (not the sequence id, which a server picks at random), so a seeded
        // request drafts, and so outputs, the same every time.
        this.random = new XorShiftRandom(sampling.seed() ^ DRAFT_SEED_SALT);
        this.q = sampling.isGreedy() ? null : new float[width];
        stage.cache().release(seqId);
    }

    @Override
    public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
        int length = history.length();
        // Drafting k tokens feeds positions up to length + k - 2.
        int room = stage.config().seqLen() - length + 1;
        int k = Math.min(maxDrafts, room);
        lastRowsFed = 0;
        lastFirstDraftNanos = -1;
        if (k <= 0) return;
        long start = System.nanoTime();
        int common = history.commonPrefix(fed, fedLength);
        if (common == length) common = length - 1; // the last token's logits are needed again
        stage.cache().truncate(seqId, common);
        fedLength = common;

        batch.clear();
        for (int i = common; i < length; i++) feed(history.get(i), i == length - 1);
        for (int j = 0; j < k; j++) {
            lastRowsFed += batch.rows();
            StageOutput out = stage.forward(batch);
            int token = pick(out, batch.rows() - 1, withProbabilities, draft);
            if (j == 0) lastFirstDraftNanos = System.nanoTime() - start;
            if (j == k - 1) break;
            batch.clear();
            feed(token, true);
        }
    }

    @Override
    public int lastRowsFed() { return lastRowsFed; }

    @Override
    public long lastFirstDraftNanos() { return lastFirstDraftNanos; }

    private void feed(int token, boolean wantLogits) {
        batch.addToken(seqId, fedLength, token, wantLogits);
        if (fedLength == fed.length) fed = Arrays.copyOf(fed, fed.length * 2);
        fed[fedLength++] = token;
    }

    private int pick(StageOutput out, int row, boolean withProbabilities, Draft draft) {
        float[] logits = out.logits();
        int off = out.logitsOffset(row);
        if (!withProbabilities || distribution == null) {
            int token = toTarget(GreedySampler.argmax(logits, off, width));
            draft.addCertain(token);
            return token;
        }
        distribution.compute(logits, off, width, q, 0);
        int index = SamplingDistribution.draw(q, 0, width, random.nextFloat());
        int token = toTarget(index);
        int qOff = draft.addSampled(token);
        float[] rows = draft.probabilities();
        if (logitTokens == null) {
            System.arraycopy(q, 0, rows, qOff, width);
        } else {
            Arrays.fill(rows, qOff, qOff + targetVocab, 0f);
            for (int i = 0; i < width; i++) rows[qOff + logitTokens[i]] = q[i];
        }
        return token;
    }

    private int toTarget(int logitIndex) {
        return logitTokens == null ? logitIndex : logitTokens[logitIndex];
    }

    @Override
    public void close() {
        stage.cache().release(seqId);
        fedLength = 0;
    }
}
