package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.distill.DraftForward;
import dev.tandem.trainer.distill.Divergence;
import dev.tandem.trainer.distill.TeacherDistribution;
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
        if (samples.isEmpty()) return AcceptanceMetrics.NONE;
        DraftForward forward = new DraftForward(draft.config());
        ReducedVocabulary v = draft.vocabulary();
        int head = draft.config().headSize();
        double[] p = new double[head];
        double[] q = new double[head];
        long positions = 0;
        long matches = 0;
        long starts = 0;
        long accepted = 0;
        double sampled = 0;
        for (DistillationSample s : samples) {
            int n = s.positionCount();
            if (n == 0) continue;
            int[] rows = new int[n];
            for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
            float[] logits = forward.logits(draft, s.tokens(), s.contextLength(), rows, n);
            boolean[] match = new boolean[n];
            for (int i = 0; i < n; i++) {
                int best = argmax(logits, i * head, head);
                match[i] = v.tokenAt(best) == s.teacherArgmax(i);
                if (match[i]) matches++;
                TeacherDistribution.project(s, i, v, p);
                Divergence.softmax(logits, i * head, head, q);
                double overlap = 0;
                for (int j = 0; j < head; j++) overlap += Math.min(p[j], q[j]);
                sampled += overlap;
            }
            for (int i = 0; i < n; i++) {
                int run = 0;
                while (run < DRAFT_LENGTH && i + run < n && s.positions()[i + run] == s.positions()[i] + run && match[i + run]) run++;
                accepted += run;
                starts++;
            }
            positions += n;
        }
        if (positions == 0) return AcceptanceMetrics.NONE;
        return new AcceptanceMetrics((double) matches / positions, (double) accepted / starts, sampled / positions, positions);
    }

    /** Evaluates both on the same samples; the candidate is better if its expected accepted length exceeds the live one's by the margin. */
    public Comparison compare(DraftModel candidate, DraftModel live, List<DistillationSample> samples) {
        AcceptanceMetrics c = evaluate(candidate, samples);
        AcceptanceMetrics l = live == null ? AcceptanceMetrics.NONE : evaluate(live, samples);
        boolean better = c.positions() > 0 && (live == null || c.expectedAccepted() > l.expectedAccepted() + margin);
        return new Comparison(c, l, better);
    }

    /** Lowest index on ties, as the engine's greedy sampler. */
    static int argmax(float[] logits, int off, int n) {
        int best = 0;
        float bestValue = logits[off];
        for (int i = 1; i < n; i++) {
            if (logits[off + i] > bestValue) {
                bestValue = logits[off + i];
                best = i;
            }
        }
        return best;
    }
}
