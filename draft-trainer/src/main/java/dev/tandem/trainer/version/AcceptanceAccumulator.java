package dev.tandem.trainer.version;

import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.distill.DraftForward;
import dev.tandem.trainer.distill.Divergence;
import dev.tandem.trainer.distill.TeacherDistribution;
import dev.tandem.trainer.sample.DistillationSample;

/**
 * Sums what {@link AcceptanceMetrics} needs over samples added one at a time, so an evaluation can be
 * spread over many short training-thread steps. One per (draft, evaluation), and the draft's weights must not change
 * while it is used (its matrices are packed once); not thread-safe.
 */
public final class AcceptanceAccumulator {

    private final DraftModel draft;
    private final DraftForward forward;
    private final double[] p;
    private final double[] q;
    private long positions;
    private long matches;
    private long starts;
    private long accepted;
    private double sampled;

    public AcceptanceAccumulator(DraftModel draft) {
        this(draft, new DraftForward(draft.config()));
    }

    /**
     * An accumulator that runs the draft through {@code forward} (of the draft's config), which it uses alone until
     * it is dropped: a trainer that evaluates candidate after candidate reuses one forward's packed weights and
     * activation buffers rather than making ~7 MB of them per evaluation.
     */
    public AcceptanceAccumulator(DraftModel draft, DraftForward forward) {
        if (!forward.config().equals(draft.config())) throw new IllegalArgumentException("the forward is not of the draft's config");
        this.draft = draft;
        this.forward = forward;
        forward.weightsChanged(); // weights as they are at the first sample, as with a forward of its own
        this.p = new double[draft.config().headSize()];
        this.q = new double[draft.config().headSize()];
    }

    public void add(DistillationSample s) {
        int n = s.positionCount();
        if (n == 0) return;
        ReducedVocabulary v = draft.vocabulary();
        int head = draft.config().headSize();
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
        float[] logits = forward.logitsOfUnchanged(draft, s.tokens(), s.contextLength(), rows, n);
        boolean[] match = new boolean[n];
        for (int i = 0; i < n; i++) {
            match[i] = v.tokenAt(GreedySampler.argmax(logits, i * head, head)) == s.teacherArgmax(i);
            if (match[i]) matches++;
            TeacherDistribution.project(s, i, v, p);
            Divergence.softmax(logits, i * head, head, q);
            double overlap = 0;
            for (int j = 0; j < head; j++) overlap += Math.min(p[j], q[j]);
            sampled += overlap;
        }
        // Greedy speculation from every recorded start: drafts are accepted while they match, up to the draft length.
        for (int i = 0; i < n; i++) {
            int run = 0;
            while (run < DraftEvaluator.DRAFT_LENGTH && i + run < n && s.positions()[i + run] == s.positions()[i] + run && match[i + run]) run++;
            accepted += run;
            starts++;
        }
        positions += n;
    }

    public AcceptanceMetrics metrics() {
        if (positions == 0) return AcceptanceMetrics.NONE;
        return new AcceptanceMetrics((double) matches / positions, (double) accepted / starts, sampled / positions, positions);
    }
}
