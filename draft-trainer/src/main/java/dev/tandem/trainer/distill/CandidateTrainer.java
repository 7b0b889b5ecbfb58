package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.version.DraftCopies;

import java.util.List;

/**
 * The draft being trained for one traffic class: a private copy of a starting draft (never the live
 * one's arrays), its {@link Distiller} with optimizer state, and running loss statistics.
 */
public final class CandidateTrainer {

    /** Smoothing of the reported running loss. */
    private static final double LOSS_SMOOTHING = 0.9;

    private final String trafficClass;
    private DraftModel candidate;
    private final Distiller distiller;
    private double runningLoss = Double.NaN;
    private long positions;

    /** The old head while it moves ({@link #moveHead}): kept, since online the head moves at every evaluation. */
    private float[] headScratch;

    public CandidateTrainer(String trafficClass, DraftModel start, DistillerSettings settings) {
        this.trafficClass = trafficClass;
        // A frozen embedding (target-sized) is shared with the starting draft instead of copied: nobody writes it.
        this.candidate = DraftCopies.copy(start, start.version(), trafficClass, !settings.trainEmbedding());
        this.distiller = new Distiller(candidate, settings);
    }

    public String trafficClass() { return trafficClass; }

    /** The weights being trained (in place; copy before publishing). */
    public DraftModel candidate() { return candidate; }

    public long steps() { return distiller.steps(); }

    /**
     * Moves the candidate's head to {@code vocabulary} (same size) without restarting: kept rows keep their weights
     * and optimizer moments, a new token's row starts from its embedding row with fresh moments. Publish copies
     * made before keep the old head.
     */
    public void moveHead(ReducedVocabulary vocabulary) {
        int[] sources = DraftCopies.headRowSources(candidate.vocabulary(), vocabulary);
        if (headScratch == null) headScratch = new float[candidate.parameters().output().length];
        candidate = DraftCopies.withVocabularyInPlace(candidate, vocabulary, sources, headScratch);
        distiller.moveHead(candidate, sources);
    }

    public long positions() { return positions; }

    public double runningLoss() { return runningLoss; }

    public Distiller.StepResult step(List<DistillationSample> batch) {
        Distiller.StepResult r = distiller.step(batch);
        positions += r.positions();
        runningLoss = Double.isNaN(runningLoss) ? r.loss() : LOSS_SMOOTHING * runningLoss + (1 - LOSS_SMOOTHING) * r.loss();
        return r;
    }
}
