package dev.tandem.engine.sampling;

/**
 * How to pick tokens.
 *
 * @param temperature 0 for greedy (argmax), else logits are divided by it before the softmax
 * @param topK        keep only the k most likely tokens; 0 keeps all
 * @param topP        nucleus sampling: keep the smallest set of most likely tokens whose mass
 *                    exceeds p; 1 keeps all
 * @param seed        the random generator's seed: the same seed and logits give the same tokens
 */
public record SamplerSettings(float temperature, int topK, float topP, long seed) {

    /** llama2.c's defaults for sampling. */
    public static final float DEFAULT_TEMPERATURE = 1.0f;
    public static final float DEFAULT_TOP_P = 0.9f;
    public static final int NO_TOP_K = 0;
    public static final float NO_TOP_P = 1.0f;

    public SamplerSettings {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
        }
    }

    /** Always the most likely token. */
    public static SamplerSettings greedy() {
        return new SamplerSettings(0f, NO_TOP_K, NO_TOP_P, 0L);
    }

    /** llama2.c's defaults (temperature 1, top-p 0.9) with the given seed. */
    public static SamplerSettings defaults(long seed) {
        return new SamplerSettings(DEFAULT_TEMPERATURE, NO_TOP_K, DEFAULT_TOP_P, seed);
    }

    public boolean isGreedy() { return temperature == 0f; }
}
