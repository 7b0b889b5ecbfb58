package dev.tandem.engine.sampling;

/**
 * Picks the next token from a row of logits. A sampler owns its random state, so one seeded
 * sampler per sequence reproduces a run exactly. It may overwrite the logits it is given.
 */
public interface Sampler {

    /** The chosen token id from {@code logits[off .. off + vocab)}. */
    int sample(float[] logits, int off, int vocab);
}
