package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

/**
 * Makes a {@link Proposer} per sequence and owns what the sequences share (a draft model's weights, a
 * stage and its KV cache keyed by sequence id). Used from one thread at a time, like the stage it feeds.
 */
public interface ProposerFactory extends AutoCloseable {

    String name();

    /** A proposer for sequence {@code seqId}; {@code sampling} is the target's (seeds the draft's own draws). */
    Proposer open(long seqId, SamplerSettings sampling);

    /**
     * As {@link #open(long, SamplerSettings)}, knowing the sequence's prompt (BOS included) and its traffic
     * class ("" when the request carried none), so a mixture of drafts can choose one per class.
     */
    default Proposer open(long seqId, SamplerSettings sampling, int[] prompt, String trafficClass) {
        return open(seqId, sampling);
    }

    @Override
    default void close() {}
}
