package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.List;

/**
 * Measures ACCEPTANCE (not loss) of drafts on recorded samples, teacher-forced on the committed tokens.
 * Under greedy decoding this is exact: a draft token is accepted iff it equals the target's argmax, and the
 * context it is drafted in is the committed history, so the measured rates are the ones serving would see.
 * Decides whether a candidate may replace the live draft.
 */
public final class DraftEvaluator {

    /** Draft length of the expected-accepted-length metric. */
    public static final int DRAFT_LENGTH = 4;

    /**
     * @param greedyAcceptance the candidate's acceptance
     * @param live             the live draft's on the same samples
     * @param better           whether the candidate wins by at least the margin
     */
    public record Comparison(AcceptanceMetrics candidate, AcceptanceMetrics live, boolean better) {}

    private final double margin;

    /** @param margin how much higher the candidate's expected accepted length must be to win (absolute) */
    public DraftEvaluator(double margin) {
        if (margin < 0) throw new IllegalArgumentException("margin must be >= 0");
        this.margin = margin;
    }

    public AcceptanceMetrics evaluate(DraftModel draft, List<DistillationSample> samples) {
        AcceptanceAccumulator a = new AcceptanceAccumulator(draft);
        for (DistillationSample s : samples) a.add(s);
        return a.metrics();
    }

    /** Whether {@code candidate} beats {@code live} (null: nothing live, any measured candidate wins). */
    public boolean better(AcceptanceMetrics candidate, AcceptanceMetrics live, boolean hasLive) {
        return candidate.positions() > 0 && (!hasLive || candidate.expectedAccepted() > live.expectedAccepted() + margin);
    }

    /** Evaluates both on the same samples; the candidate is better if its expected accepted length exceeds the live one's by the margin. */
    public Comparison compare(DraftModel candidate, DraftModel live, List<DistillationSample> samples) {
        AcceptanceMetrics c = evaluate(candidate, samples);
        AcceptanceMetrics l = live == null ? AcceptanceMetrics.NONE : evaluate(live, samples);
        return new Comparison(c, l, better(c, l, live != null));
    }
}
