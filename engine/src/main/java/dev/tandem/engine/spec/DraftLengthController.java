package dev.tandem.engine.spec;

import java.util.function.IntToDoubleFunction;

/**
 * Chooses how many tokens to draft for one sequence at each step. With a per-token acceptance rate a,
 * k drafts yield (1 - a^(k+1)) / (1 - a) tokens per step; the step costs the drafting of k tokens (a model
 * proposer's first token, which catches up on the history with cold caches, apart from the others:
 * {@link SpeculationCosts#draftNanos(String, int)}) plus the verification. For a batch of B sequences each
 * drafting k, the forward verifies B * (k + 1) rows, so per sequence it costs T(B * (k + 1)) / B, with T the
 * measured forward time by row count ({@link SpeculationCosts#forwardNanos}). Larger batches amortize the fixed part of a forward, so extra rows
 * weigh more and k shrinks: speculation backs off as batches grow. k in [0, kMax] maximizes tokens per unit
 * cost. Before any forward is measured, T is a prior line: a fixed part plus a share beta of a one-row forward
 * per row.
 *
 * <p>a is a decayed ratio of accepted drafts to drafts tried up to the first rejection (each step is a
 * run of Bernoulli trials that stops at the first failure), plus {@link #PRIOR_TRIALS} pseudo-trials at the
 * acceptance the proposer has lately had over all sequences ({@link SpeculationCosts#acceptance}). Why the shared
 * prior: requests are short, and with a fixed prior of one half a sequence's first rejection (at a = 0.6, two
 * steps in five) put its estimate below what pays, so it stopped drafting for {@link #PROBE_INTERVAL} steps, a
 * quarter of a 64-token request; {@code bench osd} then ran 1.1-1.2 tokens per step at 0.55-0.66 acceptance. When
 * the best k is 0 a single draft is still tried every {@link #PROBE_INTERVAL} steps so that a recovers when
 * traffic changes.
 */
public final class DraftLengthController {

    public static final int DEFAULT_MAX_DRAFTS = 8;
    public static final int PROBE_INTERVAL = 16;
    public static final int EXPLORE_INTERVAL = 16;
    private static final double DECAY = 0.9;
    /**
     * Weight of the prior in trials. The sequence's own decayed trials reach at most 1 / (1 - DECAY) = 10, so once it
     * has drafted a while its own record weighs most; prompts differ (acceptance per request ranged 0.2-0.9).
     */
    static final double PRIOR_TRIALS = 4.0;
    /** Acceptance is capped below 1 so the expected-token formula stays finite. */
    private static final double MAX_ACCEPTANCE = 0.995;

    private final int maxDrafts;
    private final boolean adaptive;
    /** This sequence's decayed accepted drafts and trials. */
    private double accepted;
    private double trials;
    private int stepsWithoutDrafts;
    private int stepsSinceExplored;
    private boolean exploreLonger;

    /** Adaptive k in [0, maxDrafts]. */
    public DraftLengthController(int maxDrafts) {
        this(maxDrafts, true);
    }

    /** With {@code adaptive} false, always {@code maxDrafts} (tests, fixed-k benchmarks). */
    public DraftLengthController(int maxDrafts, boolean adaptive) {
        if (maxDrafts < 0) throw new IllegalArgumentException("max drafts must be >= 0, got " + maxDrafts);
        this.maxDrafts = maxDrafts;
        this.adaptive = adaptive;
    }

    public int maxDrafts() { return maxDrafts; }

    /** The estimated probability that a draft token is accepted, with the prior {@link SpeculationCosts#PRIOR_ACCEPTANCE}. */
    public double acceptance() { return acceptance(SpeculationCosts.PRIOR_ACCEPTANCE); }

    /** The estimated probability that a draft token is accepted, with the prior {@code shared} (in [0, 1]). */
    public double acceptance(double shared) {
        double prior = Math.max(0, Math.min(1, shared));
        return Math.min(MAX_ACCEPTANCE, (accepted + PRIOR_TRIALS * prior) / (trials + PRIOR_TRIALS));
    }

    /** After a step that proposed {@code proposed} drafts of which the first {@code acceptedDrafts} were accepted. */
    public void record(int proposed, int acceptedDrafts) {
        if (proposed <= 0) return;
        int tried = trials(proposed, acceptedDrafts);
        accepted = accepted * DECAY + acceptedDrafts;
        trials = trials * DECAY + tried;
    }

    /**
     * Bernoulli trials of a step that verified {@code proposed} drafts, of which the first {@code accepted} were
     * accepted: the trials up to and including the first rejection.
     */
    static int trials(int proposed, int accepted) {
        return accepted + (accepted < proposed ? 1 : 0);
    }

    /** The number of drafts for the next step of this sequence. */
    public int choose(double draftRatio, double rowFraction, int batchSize) {
        if (!adaptive) return maxDrafts;
        return probed(bestLength(acceptance(), draftRatio, rowFraction, batchSize, maxDrafts));
    }

    /**
     * {@code k}, except: every {@link #EXPLORE_INTERVAL}-th step that drafts tries one draft more or one fewer
     * (alternately), so that the forward times of the lengths next to the chosen one stay measured (they decide
     * whether k should move, and a cost measured once, cold, would otherwise stand); and when k is 0, a single
     * probe draft every {@link #PROBE_INTERVAL} steps.
     */
    private int probed(int k) {
        if (k > 0) {
            stepsWithoutDrafts = 0;
            if (++stepsSinceExplored >= EXPLORE_INTERVAL) {
                stepsSinceExplored = 0;
                exploreLonger = !exploreLonger;
                if (exploreLonger && k < maxDrafts) return k + 1;
                return k - 1;
            }
            return k;
        }
        if (++stepsWithoutDrafts >= PROBE_INTERVAL && maxDrafts > 0) {
            stepsWithoutDrafts = 0;
            return 1;
        }
        return 0;
    }

    /**
     * The number of drafts for the next step, with the forward times measured in {@code costs}, and the draft
     * tokens' time ({@link SpeculationCosts#draftNanos(String, int)}) and recent acceptance of proposer kind
     * {@code proposer} (priors until they are measured).
     */
    public int choose(SpeculationCosts costs, String proposer, int batchSize) {
        if (!adaptive) return maxDrafts;
        double a = acceptance(costs.acceptance(proposer));
        if (!costs.measured()) return probed(bestLength(a, SpeculationCosts.PRIOR_DRAFT_RATIO, SpeculationCosts.PRIOR_ROW_FRACTION, batchSize, maxDrafts));
        return probed(bestLength(a, k -> costs.draftNanos(proposer, k), costs::forwardNanos, batchSize, maxDrafts));
    }

    /**
     * As {@link #bestLength(double, double, IntToDoubleFunction, int, int)} with the forward a line in units of a
     * one-row forward: {@code (1 - rowFraction) + rowFraction * rows}, and a draft token {@code draftRatio} of it.
     */
    public static int bestLength(double acceptance, double draftRatio, double rowFraction, int batchSize, int kMax) {
        double beta = Math.max(0, Math.min(1, rowFraction));
        return bestLength(acceptance, draftRatio, rows -> (1 - beta) + beta * rows, batchSize, kMax);
    }

    /**
     * The k in [0, kMax] with the most expected tokens per unit cost (the smallest k on ties), when a draft token
     * costs {@code draftCost} and a forward of r rows {@code forwardCost(r)}, in the same unit.
     */
    public static int bestLength(double acceptance, double draftCost, IntToDoubleFunction forwardCost, int batchSize, int kMax) {
        double c = Math.max(0, draftCost);
        return bestLength(acceptance, k -> c * k, forwardCost, batchSize, kMax);
    }

    /**
     * The k in [0, kMax] with the most expected tokens per unit cost (the smallest k on ties), when drafting k tokens
     * costs {@code draftCost(k)} and a forward of r rows {@code forwardCost(r)}, in the same unit.
     */
    public static int bestLength(double acceptance, IntToDoubleFunction draftCost, IntToDoubleFunction forwardCost, int batchSize, int kMax) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        double a = Math.max(0, Math.min(MAX_ACCEPTANCE, acceptance));
        int best = 0;
        double bestValue = -1;
        for (int k = 0; k <= kMax; k++) {
            double drafting = k == 0 ? 0 : Math.max(0, draftCost.applyAsDouble(k));
            double value = expectedTokens(a, k) / (drafting + forwardCost.applyAsDouble(batchSize * (k + 1)) / batchSize);
            if (value > bestValue * (1 + 1e-9)) {
                bestValue = value;
                best = k;
            }
        }
        return best;
    }

    /** Expected tokens output by a step with k drafts at per-token acceptance a: 1 + a + ... + a^k. */
    public static double expectedTokens(double a, int k) {
        if (a >= 1) return k + 1;
        return (1 - Math.pow(a, k + 1)) / (1 - a);
    }
}
