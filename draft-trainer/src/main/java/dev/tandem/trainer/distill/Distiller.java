package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.idle.TrainingCheckpoint;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.List;

/**
 * Knowledge distillation of one draft model on recorded teacher distributions: for each sample, a forward
 * over its committed tokens, the chosen {@link Divergence} at every recorded position (weighted up where
 * the draft was rejected), the backward pass, and one AdamW step per batch. Trains {@code model}'s
 * parameters in place, so give it a private copy, never the live draft. Not thread-safe.
 */
public final class Distiller {

    /**
     * A batch is split into at most this many fixed shards of consecutive samples (one sample each in the default batch
     * of 4), each with its own forward, backward and gradients, summed in shard order at the end. With a training pool
     * installed ({@link TrainingParallelism}) the shards run on its threads, whole sample passes claimed one at a
     * time: splitting each product instead kept two cores only 1.2x as fast as one (attention, the divergence and the
     * norms ran on one), and with two halves a worker's trainer waited a fifth of each step for the half whose thread
     * the idle CPU class had left without a core. The split does not depend on the threads, so neither does the result.
     */
    private static final int SHARDS = 4;

    private DraftModel model;
    private final DistillerSettings settings;
    private final Shard[] shards;
    /** The model's matrices packed for the current step, shared by its shards. */
    private final PackedDraftWeights packed;
    private final AdamW optimizer;
    private ReducedVocabulary vocabulary;
    private final int headSize;

    /** The outcome of one optimizer step. */
    public record StepResult(double loss, int positions, double gradientNorm) {}

    public Distiller(DraftModel model, DistillerSettings settings) {
        this.model = model;
        this.settings = settings;
        this.vocabulary = model.vocabulary();
        this.headSize = model.config().headSize();
        this.shards = new Shard[SHARDS]; // made on first use: a small batch needs fewer
        this.packed = new PackedDraftWeights(model.config());
        this.optimizer = new AdamW(model.config(), settings.optimizer(), settings.trainEmbedding());
    }

    public DraftModel model() { return model; }

    /**
     * Continues with {@code reheaded}, the trained draft over the same arrays with its head moved to another
     * vocabulary in place ({@code DraftCopies.withVocabularyInPlace}); {@code sources} maps each new head row to
     * its old row (-1: new token), and the optimizer's moments move with the rows.
     */
    public void moveHead(DraftModel reheaded, int[] sources) {
        if (reheaded.parameters() != model.parameters()) throw new IllegalArgumentException("the head must move in place");
        optimizer.moveRows(model.parameters().output(), sources, model.config().dim());
        model = reheaded;
        vocabulary = reheaded.vocabulary();
    }

    public DistillerSettings settings() { return settings; }

    public long steps() { return optimizer.steps(); }

    /** One optimizer step on the batch; returns the weighted mean loss before the step. */
    public StepResult step(List<DistillationSample> batch) {
        double weightSum = 0;
        for (DistillationSample s : batch) weightSum += totalWeight(s);
        if (weightSum == 0) return new StepResult(0, 0, 0);
        double scale = 1.0 / weightSum;
        int per = (batch.size() + SHARDS - 1) / SHARDS;
        int used = (batch.size() + per - 1) / per;
        for (int k = 0; k < used; k++) if (shards[k] == null) shards[k] = new Shard();
        packed.pack(model.parameters()); // the weights change only after the batch: pack them once for it
        ParallelRunner pool = used > 1 ? TrainingParallelism.pool() : null;
        if (pool == null) {
            for (int k = 0; k < used; k++) shards[k].run(batch, k * per, Math.min(batch.size(), (k + 1) * per), scale);
        } else {
            // Each thread runs whole sample passes; their products stay on it (a nested split would reuse the pool).
            Runnable checkpoint = TrainingCheckpoint.current();
            TrainingParallelism.install(null);
            try {
                pool.forRange(used, 1, (from, to) -> {
                    Runnable previous = TrainingCheckpoint.current();
                    TrainingCheckpoint.install(checkpoint);
                    try {
                        for (int k = from; k < to; k++) shards[k].run(batch, k * per, Math.min(batch.size(), (k + 1) * per), scale);
                    } finally {
                        TrainingCheckpoint.install(previous);
                    }
                });
            } finally {
                TrainingParallelism.install(pool);
            }
        }
        DraftGradients total = shards[0].gradients;
        double loss = shards[0].loss;
        int positions = shards[0].positions;
        for (int k = 1; k < used; k++) {
            total.add(shards[k].gradients);
            loss += shards[k].loss;
            positions += shards[k].positions;
        }
        double norm = optimizer.step(model.parameters(), total);
        return new StepResult(loss, positions, norm);
    }

    /** The weighted mean loss over the samples, without training. */
    public double loss(List<DistillationSample> samples) {
        double weightSum = 0;
        for (DistillationSample s : samples) weightSum += totalWeight(s);
        if (weightSum == 0) return 0;
        double loss = 0;
        for (DistillationSample s : samples) loss += accumulate(s, 1.0 / weightSum, false);
        return loss;
    }

    /**
     * Loss and (optionally) gradients of one sample, into the first shard's gradients ({@link #gradients}): weighted
     * sum of per-position losses times {@code scale}.
     */
    double accumulate(DistillationSample s, double scale, boolean withGradients) {
        packed.pack(model.parameters());
        return firstShard().accumulate(s, scale, withGradients);
    }

    /** The gradients the {@link #accumulate} calls add to (for checks). */
    DraftGradients gradients() { return firstShard().gradients; }

    private Shard firstShard() {
        if (shards[0] == null) shards[0] = new Shard();
        return shards[0];
    }

    private double weight(DistillationSample s, int i) {
        return s.rejected()[i] ? settings.rejectedWeight() : 1.0;
    }

    private double totalWeight(DistillationSample s) {
        double w = 0;
        for (int i = 0; i < s.positionCount(); i++) w += weight(s, i);
        return w;
    }

    /**
     * One shard's passes: its own activations, gradients and scratch, so shards can run on different threads. With
     * a trained embedding (offline bootstrap) each shard's gradients include a target-sized embedding buffer (37 MB
     * for stories15M; only touched rows are cleared and summed); online the embedding is frozen and has none.
     */
    private final class Shard {
        final DraftForward forward = new DraftForward(model.config());
        final DraftBackward backward = new DraftBackward(model.config());
        final DraftGradients gradients = new DraftGradients(model.config(), settings.trainEmbedding());
        final double[] p = new double[headSize];
        final double[] q = new double[headSize];
        final double[] dq = new double[headSize];
        float[] dLogits = new float[0];
        int[] rows = new int[0];
        double loss;
        int positions;

        /** Clears the gradients, then adds those of samples [from, to) of the batch. */
        void run(List<DistillationSample> batch, int from, int to, double scale) {
            gradients.clear();
            loss = 0;
            positions = 0;
            for (int i = from; i < to; i++) {
                DistillationSample s = batch.get(i);
                loss += accumulate(s, scale, true);
                positions += s.positionCount();
            }
        }

        /** Loss and (optionally) gradients of one sample, with the weights as packed for this step. */
        double accumulate(DistillationSample s, double scale, boolean withGradients) {
            int n = s.positionCount();
            if (n == 0) return 0;
            if (rows.length < n) rows = new int[n];
            for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
            DraftActivations a = forward.forwardPacked(packed, model.parameters(), s.tokens(), s.contextLength(), rows, n);
            if (dLogits.length < n * headSize) dLogits = new float[n * headSize];
            double loss = 0;
            for (int i = 0; i < n; i++) {
                double pOutside = TeacherDistribution.project(s, i, vocabulary, p, settings.teacherTemperature());
                double w = weight(s, i) * scale;
                loss += w * settings.divergence().loss(p, pOutside, a.logits, i * headSize, headSize, w, dLogits, i * headSize, q, dq);
            }
            if (withGradients) backward.backward(model.parameters(), a, dLogits, gradients);
            return loss;
        }
    }
}
