package dev.tandem.trainer.distill;

/**
 * How the distiller trains.
 *
 * @param divergence      the loss between teacher and draft distributions
 * @param optimizer       AdamW settings
 * @param rejectedWeight  weight of a position where the draft was rejected (other positions weigh 1): these
 *                        are the mistakes that cost a verification step, so they teach the most
 * @param trainEmbedding  whether the token embedding (target-sized, updated sparsely) is trained
 * @param teacherTemperature the teacher's distribution is sharpened to p^(1/T) (renormalized) before the divergence;
 *                        1 distills the teacher as it is, below 1 puts the draft's capacity on the teacher's top tokens
 */
public record DistillerSettings(Divergence divergence, AdamW.Settings optimizer, double rejectedWeight, boolean trainEmbedding,
                                double teacherTemperature) {

    public DistillerSettings {
        if (!(rejectedWeight > 0)) throw new IllegalArgumentException("rejected weight must be > 0");
        if (!(teacherTemperature > 0)) throw new IllegalArgumentException("teacher temperature must be > 0");
    }

    /** The teacher as it is (temperature 1). */
    public DistillerSettings(Divergence divergence, AdamW.Settings optimizer, double rejectedWeight, boolean trainEmbedding) {
        this(divergence, optimizer, rejectedWeight, trainEmbedding, 1.0);
    }

    public static DistillerSettings defaults() {
        return new DistillerSettings(Divergence.FORWARD_KL, new AdamW.Settings(1e-3, 0.9, 0.999, 1e-8, 0.01, 1.0), 2.0, true);
    }

    public DistillerSettings withDivergence(Divergence d) {
        return new DistillerSettings(d, optimizer, rejectedWeight, trainEmbedding, teacherTemperature);
    }

    public DistillerSettings withLearningRate(double lr) {
        return new DistillerSettings(divergence, new AdamW.Settings(lr, optimizer.beta1(), optimizer.beta2(), optimizer.epsilon(),
                optimizer.weightDecay(), optimizer.clipNorm()), rejectedWeight, trainEmbedding, teacherTemperature);
    }
}
