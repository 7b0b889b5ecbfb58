package dev.tandem.engine.spec;

/**
 * Measured costs that decide how far to speculate, shared by the sequences of one generator (or one
 * pipeline): the time of a target forward as a line in its row count, fitted by least squares with
 * exponential forgetting, T(rows) = fixed + perRow * rows; and the time of one draft token per proposer
 * kind. Until enough steps are measured, priors typical of a memory-bound CPU forward are used.
 * Not thread-safe.
 */
public final class SpeculationCosts {

    /** Weight of old measurements after each new one. */
    private static final double FORGETTING = 0.98;
    /** A prior: verifying one extra row costs this fraction of a one-row step. */
    private static final double PRIOR_ROW_FRACTION = 0.08;
    /** Before any measurement, a draft token is assumed to cost this fraction of a target step. */
    private static final double PRIOR_DRAFT_RATIO = 0.1;
    private static final double DRAFT_SMOOTHING = 0.1;
    private static final int MIN_DISTINCT_ROW_COUNTS = 2;

    // Decayed sums for the least-squares line time = a + b * rows.
    private double n;
    private double sumX;
    private double sumY;
    private double sumXX;
    private double sumXY;
    private int minRows = Integer.MAX_VALUE;
    private int maxRows;

    private final java.util.HashMap<String, Double> draftNanosPerToken = new java.util.HashMap<>();

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
    }

    /**
     * {@code proposer} drafted {@code tokens} tokens in {@code nanos} (tokens 0 counts as 1: a lookup still costs).
     * A lower cost is taken at once, a higher one smoothed: the first proposals run before the JIT has compiled the
     * draft's kernels and can cost a hundred times the steady state; averaged in, they would keep the controller from
     * drafting (and so from ever measuring the compiled cost) for hundreds of steps.
     */
    public void recordDraft(String proposer, int tokens, long nanos) {
        double perToken = (double) nanos / Math.max(1, tokens);
        draftNanosPerToken.merge(proposer, perToken, (old, now) -> now < old ? now : old + DRAFT_SMOOTHING * (now - old));
    }

    /**
     * The units a proposal's time is divided by in {@link #recordDraft}: the rows its model ran
     * ({@link Proposer#lastRowsFed}), or the drafted tokens for a proposer without a model.
     */
    public static int draftWork(Proposer proposer, int drafted) {
        int rows = proposer.lastRowsFed();
        return rows > 0 ? rows : drafted;
    }

    /** Time of a one-row target forward, in nanoseconds (0 before any measurement). */
    public double stepNanos() {
        if (n == 0) return 0;
        return Math.max(1, fixedNanos() + rowNanos());
    }

    /** The fraction of a one-row forward that each row adds (verification cost slope). */
    public double rowFraction() {
        if (n == 0 || maxRows - minRows < MIN_DISTINCT_ROW_COUNTS) return PRIOR_ROW_FRACTION;
        double step = fixedNanos() + rowNanos();
        if (step <= 0) return PRIOR_ROW_FRACTION;
        return clamp(rowNanos() / step, 0.0, 1.0);
    }

    /** A draft token of {@code proposer} relative to a one-row target forward. */
    public double draftRatio(String proposer) {
        Double d = draftNanosPerToken.get(proposer);
        double step = stepNanos();
        if (d == null || step == 0) return PRIOR_DRAFT_RATIO;
        return d / step;
    }

    private double rowNanos() {
        if (maxRows - minRows < MIN_DISTINCT_ROW_COUNTS) return PRIOR_ROW_FRACTION * (sumY / n);
        double denominator = n * sumXX - sumX * sumX;
        if (denominator <= 0) return PRIOR_ROW_FRACTION * (sumY / n);
        return Math.max(0, (n * sumXY - sumX * sumY) / denominator);
    }

    private double fixedNanos() {
        double meanX = sumX / n;
        double meanY = sumY / n;
        return Math.max(0, meanY - rowNanos() * meanX);
    }

    private static double clamp(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
