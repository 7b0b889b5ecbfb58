package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

/**
 * One sequence decoded speculatively by a {@link SpeculativeDecoder}: its committed history, the target's
 * KV length for it, its proposer, draft-length controller and acceptance test, the tokens output by the
 * last step, and counters. Created by {@link SpeculativeDecoder#start}; belongs to that decoder's thread.
 */
public final class DecodingSequence {

    final long seqId;
    final TokenHistory history;
    final int budget;
    final Proposer proposer;
    final DraftLengthController controller;
    final AcceptanceTest acceptance;
    final Draft draft;
    final boolean sampling;
    /** Target KV positions that hold committed tokens: [0, kvLength). */
    int kvLength;
    /** Row of the batch holding this sequence's last committed token in the current step. */
    int firstLogitRow;
    final int[] stepTokens;
    int stepCount;
    int generated;
    long steps;
    long proposed;
    long accepted;

    DecodingSequence(long seqId, int[] prompt, int budget, SamplerSettings settings, Proposer proposer,
                     DraftLengthController controller, int vocab, int maxDrafts) {
        this.seqId = seqId;
        this.history = new TokenHistory(prompt, prompt.length + budget + maxDrafts + 1);
        this.budget = budget;
        this.proposer = proposer;
        this.controller = controller;
        this.acceptance = new AcceptanceTest(settings, vocab);
        this.draft = new Draft(maxDrafts, vocab);
        this.sampling = !settings.isGreedy();
        this.stepTokens = new int[maxDrafts + 1];
    }

    public long seqId() { return seqId; }

    public TokenHistory history() { return history; }

    /** The most new tokens this sequence may produce (max tokens, bounded by the context). */
    public int budget() { return budget; }

    /** New tokens produced so far. */
    public int generated() { return generated; }

    public boolean exhausted() { return generated >= budget; }

    /** Tokens output by the last step (accepted drafts, then the target's own), in order. */
    public int stepCount() { return stepCount; }

    public int stepToken(int i) {
        if (i < 0 || i >= stepCount) throw new IndexOutOfBoundsException("step token " + i + " of " + stepCount);
        return stepTokens[i];
    }

    public Proposer proposer() { return proposer; }

    public double acceptanceEstimate() { return controller.acceptance(); }

    public SpeculationStats stats() {
        return new SpeculationStats(proposer.name(), steps, proposed, accepted, generated);
    }
}
