package dev.tandem.engine.sampling;

/** Builds the sampler that {@link SamplerSettings} describe. */
public final class Samplers {

    private Samplers() {}

    /** Greedy when the temperature is 0, else stochastic; buffers grow to the vocabulary on first use. */
    public static Sampler create(SamplerSettings settings) {
        return create(settings, 0);
    }

    /** As {@link #create(SamplerSettings)}, with buffers for {@code vocabSize} tokens allocated up front. */
    public static Sampler create(SamplerSettings settings, int vocabSize) {
        return settings.isGreedy() ? new GreedySampler() : new StochasticSampler(settings, vocabSize);
    }
}
