package dev.tandem.engine.spec;

/**
 * What speculation did for a sequence (or a sum over sequences).
 *
 * @param proposer  the proposer kind
 * @param steps     target forwards (verification steps, the prefill included)
 * @param proposed  draft tokens proposed
 * @param accepted  draft tokens accepted
 * @param tokens    tokens output by the steps (accepted drafts plus one target token per step)
 */
public record SpeculationStats(String proposer, long steps, long proposed, long accepted, long tokens) {

    /** Accepted over proposed drafts (0 when nothing was proposed). */
    public double acceptanceRate() { return proposed == 0 ? 0 : (double) accepted / proposed; }

    /** Mean tokens output per target forward. */
    public double tokensPerStep() { return steps == 0 ? 0 : (double) tokens / steps; }

    public SpeculationStats plus(SpeculationStats o) {
        return new SpeculationStats(proposer, steps + o.steps, proposed + o.proposed, accepted + o.accepted, tokens + o.tokens);
    }

    public static SpeculationStats empty(String proposer) {
        return new SpeculationStats(proposer, 0, 0, 0, 0);
    }
}
