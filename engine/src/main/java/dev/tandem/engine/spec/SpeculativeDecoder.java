package dev.tandem.engine.spec;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;

import java.util.List;

/**
 * Token-level speculative decoding over all layers of a target in this process, for any number of
 * sequences batched into one forward per step. Each step, for every sequence: the proposer drafts k tokens
 * (k from the sequence's {@link DraftLengthController}, bounded by what the sequence may still produce);
 * then ONE target forward runs the rows [uncommitted history (the last accepted token, or the whole prompt
 * at first), draft 1 .. draft k] of all sequences; then each sequence's {@link AcceptanceTest} decides its
 * output tokens, the KV of rejected positions is truncated, and the history grows.
 *
 * <p>A sequence never produces more than its budget (max new tokens, and prompt + output <= context + 1, as
 * the non-speculative generator): k is capped at budget - generated - 1, which also keeps every row inside
 * the context. Not thread-safe.
 */
public final class SpeculativeDecoder implements AutoCloseable {

    private final ModelConfig config;
    private final LlamaStage target;
    private final ForwardBatch batch;
    private final ProposerFactory proposers;
    private final SpeculationCosts costs;
    private final SpeculationOptions options;
    /** Told about every verification (online distillation records from it); never changes what is output. */
    private volatile VerificationListener verificationListener = VerificationListener.NONE;

    public SpeculativeDecoder(ModelWeights weights, ParallelRunner runner, ProposerFactory proposers,
                              SpeculationCosts costs, SpeculationOptions options) {
        this.config = weights.config();
        this.target = new LlamaStage(weights, 0, config.nLayers(), runner, options.maxDrafts() + 1);
        EngineSettings engine = EngineSettings.load();
        target.useGreedyScreen(engine.greedyScreen());
        target.useScreenForTopLogits(engine.screenTopLogits());
        this.batch = new ForwardBatch(config.dim(), options.maxDrafts() + 1);
        this.proposers = proposers;
        this.costs = costs;
        this.options = options;
    }

    public ModelConfig config() { return config; }

    public SpeculationCosts costs() { return costs; }

    public String proposerName() { return proposers.name(); }

    /** Sets who observes verification (default: nobody). Takes effect from the next sequence start or step. */
    public void setVerificationListener(VerificationListener listener) {
        this.verificationListener = listener == null ? VerificationListener.NONE : listener;
        if (verificationListener.exactTopLogits() > 0) target.screenTopK(verificationListener.exactTopLogits());
    }

    /** The target stage (its KV cache holds committed positions of live sequences only, between steps). */
    public LlamaStage target() { return target; }

    /**
     * Registers a sequence. {@code prompt} includes BOS and is shorter than the context; the budget is
     * {@code maxNewTokens} bounded so that prompt + output <= context + 1.
     */
    public DecodingSequence start(long seqId, int[] prompt, SamplerSettings sampling, int maxNewTokens) {
        if (prompt.length == 0 || prompt.length >= config.seqLen()) {
            throw new IllegalArgumentException("a prompt of " + prompt.length + " tokens does not fit a context of " + config.seqLen());
        }
        if (maxNewTokens <= 0) throw new IllegalArgumentException("max new tokens must be positive, got " + maxNewTokens);
        int budget = Math.min(maxNewTokens, config.seqLen() - prompt.length + 1);
        target.cache().release(seqId);
        Proposer proposer = proposers.open(seqId, sampling);
        DraftLengthController controller = new DraftLengthController(options.maxDrafts(), options.adaptive());
        verificationListener.onStart(seqId, prompt);
        return new DecodingSequence(seqId, prompt, budget, sampling, proposer, controller, config.vocabSize(), options.maxDrafts());
    }

    /** One speculative step of every sequence in the list (none may be exhausted). */
    public void step(List<DecodingSequence> sequences) {
        int batchSize = sequences.size();
        if (batchSize == 0) return;
        batch.clear();
        boolean prefill = false;
        for (DecodingSequence s : sequences) {
            if (s.exhausted()) throw new IllegalStateException("sequence " + s.seqId + " has produced its " + s.budget + " tokens");
            draft(s, batchSize);
            int length = s.history.length();
            prefill |= length - s.kvLength > 1;
            int[] h = s.history.array();
            // Greedy verification reads only each row's argmax, unless a listener records the target's logits.
            RowOutput verified = verificationListener.verifiedRow(s.seqId, !s.sampling);
            for (int i = s.kvLength; i < length; i++) {
                int row = batch.addToken(s.seqId, i, h[i], i == length - 1 ? verified : RowOutput.HIDDEN);
                if (i == length - 1) s.firstLogitRow = row;
            }
            for (int j = 0; j < s.draft.count(); j++) batch.addToken(s.seqId, length + j, s.draft.token(j), verified);
            // Greedy rows check the drafts, so the head may skip the rows after the first rejection (never read).
            if (verified == RowOutput.GREEDY_TOKEN) {
                for (int j = 0; j < s.draft.count(); j++) batch.expectGreedyToken(s.firstLogitRow + j, s.draft.token(j));
            }
        }
        long start = System.nanoTime();
        StageOutput out = target.forward(batch);
        long nanos = System.nanoTime() - start;
        if (!prefill) costs.recordForward(batch.rows(), nanos); // prefill rows (no logits) would skew the line
        for (DecodingSequence s : sequences) accept(s, out);
    }

    private void draft(DecodingSequence s, int batchSize) {
        s.draft.clear();
        int room = s.budget - s.generated - 1;
        int k = Math.min(room, s.controller.choose(costs, proposers.name(), batchSize));
        if (k <= 0) return;
        long start = System.nanoTime();
        s.proposer.propose(s.history, k, s.sampling, s.draft);
        costs.recordProposal(proposers.name(), s.proposer, s.draft.count(), System.nanoTime() - start);
        if (s.draft.count() > k) throw new IllegalStateException(s.proposer.name() + " proposed more than " + k + " tokens");
    }

    private void accept(DecodingSequence s, StageOutput out) {
        int length = s.history.length();
        int n = s.acceptance.verify(out, s.firstLogitRow, s.draft, s.stepTokens);
        int acceptedDrafts = n - 1;
        // Positions of the history and of the accepted drafts hold committed keys and values; the
        // rejected drafts' are dropped now (the next forward would also overwrite them from kvLength on).
        s.kvLength = length + acceptedDrafts;
        target.cache().truncate(s.seqId, s.kvLength);
        s.history.append(s.stepTokens, n);
        s.stepCount = n;
        s.generated += n;
        s.steps++;
        s.proposed += s.draft.count();
        s.accepted += acceptedDrafts;
        s.controller.record(s.draft.count(), acceptedDrafts);
        costs.recordAcceptance(proposers.name(), s.draft.count(), acceptedDrafts);
        s.proposer.observe(s.history, acceptedDrafts, n);
        if (verificationListener != VerificationListener.NONE) {
            verificationListener.onVerified(s.seqId, s.history, length, out, s.firstLogitRow, n, s.draft, acceptedDrafts);
        }
    }

    /** Forgets a sequence: its KV cache and its proposer's state. */
    public void release(DecodingSequence s) {
        target.cache().release(s.seqId);
        s.proposer.close();
        verificationListener.onRelease(s.seqId);
    }

    @Override
    public void close() {
        proposers.close();
    }
}
