package dev.tandem.engine.spec;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Measured costs that decide how far to speculate, shared by the sequences of one generator (or one pipeline):
 * the time of a target forward by its row count, and the time of one draft token per proposer kind. Not
 * thread-safe.
 *
 * <p>A forward's time is not a line in its rows. A greedy row costs about the same alone or with one more (the
 * int8 screen of the head reads its weights once for two rows), a third row costs a second pass; a float32
 * forward is bound by its weight bytes up to about four rows, by its multiply-adds beyond (stories15M on 2
 * cores: 0.83, 0.85, 1.29, 1.37, 1.80 ms for 1 to 5 rows). A line fitted through such points told the draft
 * length controller that a second row costs a third of a step when it costs 2%, so it drafted too long where
 * one draft paid, and speculation ran slower than none. So every row count that occurs keeps its own estimate;
 * a count not seen lately is interpolated between the nearest ones seen lately, or extended from the nearest by
 * the slope of a least-squares line through all measurements. Until anything is measured, priors typical of a
 * memory-bound CPU forward are used.
 */
public final class SpeculationCosts {

    /** Before any measurement: verifying one extra row costs this fraction of a one-row step. */
    static final double PRIOR_ROW_FRACTION = 0.08;
    /** Before any measurement of a proposer: a draft token costs this fraction of a one-row target step. */
    static final double PRIOR_DRAFT_RATIO = 0.1;
    /** Before any verification of a proposer's drafts: the probability that a draft token is accepted. */
    public static final double PRIOR_ACCEPTANCE = 0.5;
    /**
     * Weight of old verifications in a proposer's shared acceptance after each new one: it spans ~100 steps, a few
     * requests, so it follows a newly published draft within a request or two.
     */
    private static final double ACCEPTANCE_DECAY = 0.99;
    /** Weight of old measurements in the least-squares line after each new one. */
    private static final double FORGETTING = 0.98;
    /**
     * A row count's estimate moves by this fraction of a sample below it, and by {@link #SMOOTHING_UP} of one above
     * it, so it follows the lower part of its samples. The noise of a forward's time is one-sided (a collection
     * pause, a descheduled thread, code the JIT has not compiled yet), and the first samples of a count are often
     * its slowest: with a plain mean, a count first measured cold looked dear for hundreds of steps, and since the
     * controller then avoided it, it was never measured again.
     */
    private static final double SMOOTHING_DOWN = 0.3;
    private static final double SMOOTHING_UP = 0.05;
    /** Proposals of a proposer whose lowest cost is taken as its estimate (the JIT compiles the draft meanwhile). */
    private static final int DRAFT_WARM_UP_SAMPLES = 32;
    /**
     * History rows a proposer catches up on from one drafting step to the next: the accepted drafts it has not
     * fed yet (the last one, whose continuation it drafted from its own output) and the target's token.
     */
    private static final int STEADY_CATCH_UP_ROWS = 2;
    private static final int MIN_DISTINCT_ROW_COUNTS = 2;
    private static final int INITIAL_COUNTS = 32;
    /** A row count's estimate stands in for it this many forwards (of any count) after its last sample. */
    private static final int STALE_AFTER = 256;

    // Decayed sums for the least-squares line time = a + b * rows (the slope that extends the table).
    private double n;
    private double sumX;
    private double sumY;
    private double sumXX;
    private double sumXY;
    private int minRows = Integer.MAX_VALUE;
    private int maxRows;

    /** Estimated nanoseconds of a forward of r rows at index r, and how many forwards of r rows were measured. */
    private double[] countNanos = new double[INITIAL_COUNTS];
    private int[] countSamples = new int[INITIAL_COUNTS];
    /** The {@link #clock} of each row count's last sample. */
    private long[] countUpdated = new long[INITIAL_COUNTS];
    /** Forwards recorded so far. */
    private long clock;

    /** Per proposer: a (first) draft token's nanoseconds, and the samples taken. */
    private final Map<String, Double> draftNanosPerToken = new HashMap<>();
    private final Map<String, Integer> draftSamples = new HashMap<>();
    /** Per proposer whose proposals measure their first token apart: each further draft token of a proposal. */
    private final Map<String, Double> followingNanosPerToken = new HashMap<>();
    private final Map<String, Integer> followingSamples = new HashMap<>();
    /** Per proposer: decayed accepted drafts and drafts tried (up to and including the first rejection). */
    private final Map<String, double[]> acceptanceSums = new HashMap<>();
    /** Per family of versioned proposers ({@link #family}): the latest estimate of a draft token of any version. */
    private final Map<String, Double> familyDraftNanos = new HashMap<>();
    /** The same sums per family of versioned proposers ({@link #family}), over all its versions. */
    private final Map<String, double[]> familyAcceptanceSums = new HashMap<>();
    /** Each proposer name's family, or empty. */
    private final Map<String, Optional<String>> families = new HashMap<>();

    /** A target forward over {@code rows} rows (of all sequences in the batch) took {@code nanos}. */
    public void recordForward(int rows, long nanos) {
        if (rows <= 0 || nanos <= 0) return;
        n = n * FORGETTING + 1;
        sumX = sumX * FORGETTING + rows;
        sumY = sumY * FORGETTING + nanos;
        sumXX = sumXX * FORGETTING + (double) rows * rows;
        sumXY = sumXY * FORGETTING + (double) rows * nanos;
        minRows = Math.min(minRows, rows);
        maxRows = Math.max(maxRows, rows);
        if (rows >= countNanos.length) {
            int size = Math.max(rows + 1, 2 * countNanos.length);
            countNanos = Arrays.copyOf(countNanos, size);
            countSamples = Arrays.copyOf(countSamples, size);
            countUpdated = Arrays.copyOf(countUpdated, size);
        }
        clock++;
        // A stale estimate starts over: it may be far from the current time, and smoothing would keep it there.
        int samples = fresh(rows) ? countSamples[rows] : 0;
        double estimate = countNanos[rows];
        countNanos[rows] = samples == 0 ? nanos : estimate + (nanos < estimate ? SMOOTHING_DOWN : SMOOTHING_UP) * (nanos - estimate);
        countSamples[rows] = samples == Integer.MAX_VALUE ? samples : samples + 1;
        countUpdated[rows] = clock;
    }

    /**
     * {@code proposer} drafted {@code tokens} tokens in {@code nanos} (0 counts as 1: a lookup still costs). For its
     * first {@link #DRAFT_WARM_UP_SAMPLES} proposals a lower cost is taken at once: they run before the JIT has
     * compiled the draft's kernels and can cost a hundred times the steady state; averaged in, they would keep the
     * controller from drafting (and so from ever measuring the compiled cost) for hundreds of steps. After that the
     * estimate follows the lower part of the samples as forwards' do: kept at the lowest sample, it put a draft
     * token at half its usual cost on a busy machine, and the controller drafted where it did not pay.
     */
    public void recordDraft(String proposer, int tokens, long nanos) {
        smooth(draftNanosPerToken, draftSamples, proposer, (double) nanos / Math.max(1, tokens));
        String family = familyOf(proposer);
        if (family != null) familyDraftNanos.put(family, draftNanosPerToken.get(proposer));
    }

    /** A proposal's {@code tokens} draft tokens after its first took {@code nanos}; estimated as {@link #recordDraft}'s. */
    public void recordFollowingDrafts(String proposer, int tokens, long nanos) {
        if (tokens <= 0) return;
        smooth(followingNanosPerToken, followingSamples, proposer, (double) nanos / tokens);
    }

    private static void smooth(Map<String, Double> estimates, Map<String, Integer> counts, String proposer, double sample) {
        int samples = counts.merge(proposer, 1, Integer::sum);
        estimates.merge(proposer, sample, (old, now) -> samples <= DRAFT_WARM_UP_SAMPLES
                ? Math.min(old, now) : old + (now < old ? SMOOTHING_DOWN : SMOOTHING_UP) * (now - old));
    }

    /**
     * {@code proposer} (of kind {@code name}) drafted {@code drafted} tokens in {@code nanos}. Recorded per drafted
     * token (a draft forward each) when the proposer caught up on at most {@link #STEADY_CATCH_UP_ROWS} rows of
     * history first, as it does from one step to the next while it drafts. A proposal after a pause first feeds
     * every token since (a whole prompt, or the tokens of the steps without drafts): its time per drafted token
     * only bounds a draft token's cost from above, so it may lower the estimate, never raise it. Charged in full
     * to the tokens it drafts, such a catch-up made drafting look so dear that the controller stopped drafting, so
     * that every later probe was such a proposal again; ignored, an estimate measured cold stood for good; per row
     * fed, a draft token looked half as dear as it is, since a draft forward of two rows costs about what one of
     * one row does.
     */
    public void recordProposal(String name, Proposer proposer, int drafted, long nanos) {
        long first = proposer.lastFirstDraftNanos();
        boolean split = first >= 0 && drafted >= 1 && first <= nanos;
        if (split && drafted >= 2) recordFollowingDrafts(name, drafted - 1, nanos - first);
        // With the first token measured apart, the draft token estimate is the first token's; else each token's.
        long measured = split ? first : nanos;
        int tokens = split ? 1 : drafted;
        int rows = proposer.lastRowsFed();
        if (rows > 0 && rows - drafted > STEADY_CATCH_UP_ROWS) {
            double bound = (double) measured / Math.max(1, tokens);
            draftNanosPerToken.computeIfPresent(name, (k, old) -> Math.min(old, bound));
            return;
        }
        recordDraft(name, tokens, measured);
    }

    /**
     * A step of some sequence verified {@code proposed} drafts of {@code proposer}, of which the first {@code accepted}
     * were accepted: the trials counted as a sequence's {@link DraftLengthController} counts them.
     */
    public void recordAcceptance(String proposer, int proposed, int accepted) {
        if (proposed <= 0) return;
        int tried = DraftLengthController.trials(proposed, accepted);
        addTrials(acceptanceSums.computeIfAbsent(proposer, k -> new double[2]), accepted, tried);
        String family = familyOf(proposer);
        if (family != null) addTrials(familyAcceptanceSums.computeIfAbsent(family, k -> new double[2]), accepted, tried);
    }

    private static void addTrials(double[] sums, int accepted, int tried) {
        sums[0] = sums[0] * ACCEPTANCE_DECAY + accepted;
        sums[1] = sums[1] * ACCEPTANCE_DECAY + tried;
    }

    /**
     * The probability that a draft token of {@code proposer} is accepted, over the recent steps of all sequences: the
     * prior a new sequence's draft length starts from. Before any of its own, a version ({@code family@version})
     * starts from its family's recent acceptance, other proposers from {@link #PRIOR_ACCEPTANCE}.
     */
    public double acceptance(String proposer) {
        double[] sums = acceptanceSums.get(proposer);
        if (sums != null && sums[1] > 0) return sums[0] / sums[1];
        String family = familyOf(proposer);
        double[] inherited = family == null ? null : familyAcceptanceSums.get(family);
        return inherited != null && inherited[1] > 0 ? inherited[0] / inherited[1] : PRIOR_ACCEPTANCE;
    }

    /**
     * The family of a proposer named {@code family@version} (a published draft version, {@code draft:animals@7}), or
     * null. Online distillation publishes a better version every few requests; each starting at the prior of one
     * half put the first requests after a publication at a = 0.5 while their drafts were accepted at 0.6-0.7, where an
     * extra verified row did not pay on a 2-core cluster, so they drafted only on probes (bench osd: 1.1-1.3 tokens
     * per step at 0.6 acceptance).
     */
    static String family(String proposer) {
        int at = proposer.lastIndexOf('@');
        return at > 0 ? proposer.substring(0, at) : null;
    }

    /** {@link #family}, worked out once per proposer name (it is asked at every step). */
    private String familyOf(String proposer) {
        return families.computeIfAbsent(proposer, p -> Optional.ofNullable(family(p))).orElse(null);
    }

    /** Whether any target forward was measured (before that, {@link #forwardNanos} is 0 and priors decide). */
    public boolean measured() { return n > 0; }

    /**
     * Estimated nanoseconds of a target forward over {@code rows} rows (0 before any measurement): the estimate of
     * that row count if it was measured, else interpolated between the nearest measured counts around it, else
     * extended from the nearest measured count by the fitted line's slope per row.
     */
    public double forwardNanos(int rows) {
        if (n == 0 || rows <= 0) return 0;
        if (fresh(rows)) return countNanos[rows];
        int lo = Math.min(rows - 1, countSamples.length - 1);
        while (lo > 0 && !fresh(lo)) lo--;
        int hi = rows + 1;
        while (hi < countSamples.length && !fresh(hi)) hi++;
        boolean above = hi < countSamples.length;
        double slope = rowNanos();
        if (lo > 0 && above) return countNanos[lo] + (countNanos[hi] - countNanos[lo]) * (rows - lo) / (hi - lo);
        if (lo > 0) return countNanos[lo] + slope * (rows - lo);
        if (!above) return Math.max(1, sumY / n + slope * (rows - sumX / n)); // nothing recent: the line alone
        // Below every measured count: no less than an equal share of the nearest one.
        return Math.max(countNanos[hi] * rows / hi, countNanos[hi] - slope * (hi - rows));
    }

    /** Time of a one-row target forward, in nanoseconds (0 before any measurement). */
    public double stepNanos() {
        return Math.max(n == 0 ? 0 : 1, forwardNanos(1));
    }

    /**
     * Nanoseconds of one draft token of {@code proposer} (the first of a proposal, for a proposer that measures it
     * apart): measured, or a prior share of a one-row step.
     */
    public double draftNanos(String proposer) {
        Double d = draftNanosPerToken.get(proposer);
        if (d != null) return d;
        String family = familyOf(proposer);
        Double inherited = family == null ? null : familyDraftNanos.get(family);
        return inherited != null ? inherited : PRIOR_DRAFT_RATIO * stepNanos();
    }

    /** Nanoseconds of each draft token of a proposal after its first ({@link #draftNanos} until measured). */
    public double followingDraftNanos(String proposer) {
        Double d = followingNanosPerToken.get(proposer);
        return d != null ? d : draftNanos(proposer);
    }

    /**
     * Nanoseconds of a proposal of {@code k} draft tokens: the first token's cost, then {@link #followingDraftNanos}
     * for each other. Charged at the first token's cost each, a cluster coordinator's draft of k = 4 looked 2-3x its
     * real cost (a draft token measured 0.8-1.75 ms there, a following one ~0.3), and the controller kept to one.
     */
    public double draftNanos(String proposer, int k) {
        return k <= 0 ? 0 : draftNanos(proposer) + (k - 1) * followingDraftNanos(proposer);
    }

    /** The estimates a log line shows: forwards of 1, 2, 3, 5 and 9 rows, and draft tokens of {@code proposer}. */
    public String describe(String proposer) {
        if (n == 0) return "no forward measured yet";
        StringBuilder s = new StringBuilder("forward of");
        for (int rows : new int[]{1, 2, 3, 5, 9}) s.append(String.format(Locale.ROOT, " %d row%s %.2f ms,", rows, rows == 1 ? "" : "s", forwardNanos(rows) / 1e6));
        return s.append(String.format(Locale.ROOT, " a draft token %.3f ms (then %.3f ms each), acceptance %.2f",
                draftNanos(proposer) / 1e6, followingDraftNanos(proposer) / 1e6, acceptance(proposer))).toString();
    }

    /**
     * Whether row count r was measured within the last {@link #STALE_AFTER} forwards. An older estimate no longer
     * counts: the controller stops choosing a length it thinks dear, so that length's estimate would otherwise
     * stand for good (a cluster's first verification steps, cold, measured 9 ms for two rows against 3.4 later);
     * its neighbours and the line, which are measured now, stand in, and if they make it look worth it again, the
     * controller tries it and measures it anew.
     */
    private boolean fresh(int r) {
        return r < countSamples.length && countSamples[r] > 0 && clock - countUpdated[r] <= STALE_AFTER;
    }

    /** The least-squares slope: nanoseconds per extra row (a prior share of the mean until two counts differ enough). */
    private double rowNanos() {
        if (maxRows - minRows < MIN_DISTINCT_ROW_COUNTS) return PRIOR_ROW_FRACTION * (sumY / n);
        double denominator = n * sumXX - sumX * sumX;
        if (denominator <= 0) return PRIOR_ROW_FRACTION * (sumY / n);
        return Math.max(0, (n * sumXY - sumX * sumY) / denominator);
    }
}
