package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

/** Proposes nothing: every step is a plain decode step. The baseline for speedups. */
public final class NoneProposer implements Proposer {

    public static final String NAME = "none";

    @Override
    public String name() { return NAME; }

    @Override
    public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {}

    public static ProposerFactory factory() {
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) { return new NoneProposer(); }
        };
    }
}
