package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.List;

/**
 * Knowledge distillation of one draft model on recorded teacher distributions: for each sample, a forward
 * over its committed tokens, the chosen {@link Divergence} at every recorded position (weighted up where
 * the draft was rejected), the backward pass, and one AdamW step per batch. Trains {@code model}'s
 * parameters in place, so give it a private copy, never the live draft. Not thread-safe.
 */
public final class Distiller {

    private final DraftModel model;
    private final DistillerSettings settings;
    private final DraftForward forward;
    private final DraftBackward backward;
    private final DraftGradients gradients;
    private final AdamW optimizer;
    private final ReducedVocabulary vocabulary;
    private final int headSize;
    private double[] p;
    private double[] q;
    private double[] dq;
    private float[] dLogits = new float[0];
    private int[] rows = new int[0];

    /** The outcome of one optimizer step. */
    public record StepResult(double loss, int positions, double gradientNorm) {}

    public Distiller(DraftModel model, DistillerSettings settings) {
        this.model = model;
        this.settings = settings;
        this.forward = new DraftForward(model.config());
        this.backward = new DraftBackward(model.config());
        this.gradients = new DraftGradients(model.config(), settings.trainEmbedding());
        this.optimizer = new AdamW(model.config(), settings.optimizer(), settings.trainEmbedding());
        this.vocabulary = model.vocabulary();
        this.headSize = model.config().headSize();
        this.p = new double[headSize];
        this.q = new double[headSize];
        this.dq = new double[headSize];
    }

    public DraftModel model() { return model; }

    public DistillerSettings settings() { return settings; }

    public long steps() { return optimizer.steps(); }

    /** One optimizer step on the batch; returns the weighted mean loss before the step. */
    public StepResult step(List<DistillationSample> batch) {
        gradients.clear();
        double weightSum = 0;
        for (DistillationSample s : batch) weightSum += totalWeight(s);
        if (weightSum == 0) return new StepResult(0, 0, 0);
        double loss = 0;
        int positions = 0;
        for (DistillationSample s : batch) {
            loss += accumulate(s, 1.0 / weightSum, true);
            positions += s.positionCount();
        }
        double norm = optimizer.step(model.parameters(), gradients);
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

    /** Loss and (optionally) gradients of one sample: weighted sum of per-position losses times {@code scale}. */
    double accumulate(DistillationSample s, double scale, boolean withGradients) {
        int n = s.positionCount();
        if (n == 0) return 0;
        if (rows.length < n) rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
        DraftActivations a = forward.forward(model.parameters(), s.tokens(), s.contextLength(), rows, n);
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

    /** The gradients of the last {@link #accumulate} calls (for checks). */
    DraftGradients gradients() { return gradients; }

    private double weight(DistillationSample s, int i) {
        return s.rejected()[i] ? settings.rejectedWeight() : 1.0;
    }

    private double totalWeight(DistillationSample s) {
        double w = 0;
        for (int i = 0; i < s.positionCount(); i++) w += weight(s, i);
        return w;
    }
}
