package dev.tandem.trainer.version;

/**
 * How well a draft would be accepted on a set of recorded positions.
 *
 * @param greedyAcceptance  fraction of positions where the draft's argmax is the teacher's argmax (the
 *                          acceptance rate of greedy speculation, position by position)
 * @param expectedAccepted  mean number of drafts accepted per verification step when drafting
 *                          {@link DraftEvaluator#DRAFT_LENGTH} tokens greedily, from every recorded start
 * @param sampledAcceptance mean of sum_x min(p(x), q(x)): the acceptance probability of speculative
 *                          sampling at temperature 1
 * @param positions         positions evaluated
 */
public record AcceptanceMetrics(double greedyAcceptance, double expectedAccepted, double sampledAcceptance, long positions) {

    public static final AcceptanceMetrics NONE = new AcceptanceMetrics(0, 0, 0, 0);

    /** Tokens per target step under greedy speculation with the evaluator's draft length. */
    public double tokensPerStep() { return 1 + expectedAccepted; }
}
