package dev.tandem.engine.sampling;

/**
 * The exact distribution that {@link StochasticSampler} draws from for a row of logits: softmax of
 * logits / temperature, restricted to the top-k and/or the top-p nucleus the same way (same candidate
 * cut-off, same tie order, same renormalization), as a dense probability vector. Speculative decoding
 * needs it as a vector: the acceptance test compares the target's p with the draft's q token by token
 * and resamples from max(0, p - q).
 *
 * <p>Owns a scratch buffer: one instance per thread. Allocates nothing once the buffer fits the vocabulary.
 */
public final class SamplingDistribution {

    private final SamplerSettings settings;
    private long[] keys;

    public SamplingDistribution(SamplerSettings settings, int vocabSize) {
        if (settings.isGreedy()) throw new IllegalArgumentException("greedy sampling has no distribution to compute");
        this.settings = settings;
        this.keys = new long[Math.max(0, vocabSize)];
    }

    public SamplerSettings settings() { return settings; }

    /**
     * Writes into {@code out[outOff .. outOff + vocab)} the probability of each token being sampled from
     * {@code logits[off .. off + vocab)} (which are left untouched). The result sums to 1.
     */
    public void compute(float[] logits, int off, int vocab, float[] out, int outOff) {
        if (vocab <= 0) throw new IllegalArgumentException("empty vocabulary");
        if (keys.length < vocab) keys = new long[vocab];
        float temperature = settings.temperature();
        for (int i = 0; i < vocab; i++) out[outOff + i] = logits[off + i] / temperature;
        StochasticSampler.softmax(out, outOff, vocab);

        int topK = settings.topK();
        boolean useTopK = topK > 0 && topK < vocab;
        boolean useTopP = settings.topP() < 1f;
        if (!useTopK && !useTopP) return; // plain multinomial over the softmax

        int n = useTopK ? selectTopK(out, outOff, vocab, topK) : selectNucleusCandidates(out, outOff, vocab);
        if (n == 0) { // the sampler falls back to the argmax
            int best = GreedySampler.argmax(out, outOff, vocab);
            java.util.Arrays.fill(out, outOff, outOff + vocab, 0f);
            out[outOff + best] = 1f;
            return;
        }
        CandidateKeys.sortDescending(keys, n);
        int last = nucleusEnd(n, useTopP, useTopK);
        float mass = 0f;
        for (int i = 0; i <= last; i++) mass += CandidateKeys.probability(keys[i]);
        java.util.Arrays.fill(out, outOff, outOff + vocab, 0f);
        for (int i = 0; i <= last; i++) out[outOff + CandidateKeys.token(keys[i])] = CandidateKeys.probability(keys[i]) / mass;
    }

    private int selectTopK(float[] probs, int off, int vocab, int k) {
        int size = 0;
        for (int i = 0; i < vocab; i++) size = CandidateKeys.offerTopK(keys, size, k, CandidateKeys.key(probs[off + i], i));
        return size;
    }

    /** As {@link StochasticSampler}: tokens below (1 - p) / (n - 1) are never candidates. */
    private int selectNucleusCandidates(float[] probs, int off, int vocab) {
        if (vocab == 1) {
            keys[0] = CandidateKeys.key(probs[off], 0);
            return 1;
        }
        float cutoff = (1.0f - settings.topP()) / (vocab - 1);
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (probs[off + i] >= cutoff) keys[n++] = CandidateKeys.key(probs[off + i], i);
        }
        return n;
    }

    /** Index of the last sorted candidate in the nucleus, as {@link StochasticSampler}'s {@code sampleSorted}. */
    private int nucleusEnd(int n, boolean useTopP, boolean useTopK) {
        float threshold = settings.topP();
        if (useTopP && useTopK) {
            float mass = 0f;
            for (int i = 0; i < n; i++) mass += CandidateKeys.probability(keys[i]);
            threshold *= mass;
        }
        if (!useTopP) return n - 1;
        float cumulative = 0f;
        for (int i = 0; i < n; i++) {
            cumulative += CandidateKeys.probability(keys[i]);
            if (cumulative > threshold) return i;
        }
        return n - 1;
    }

    /** Draws a token from a probability vector with one uniform number in [0, 1) (inverse CDF). */
    public static int draw(float[] probs, int off, int n, float coin) {
        float cdf = 0f;
        int lastPositive = -1;
        for (int i = 0; i < n; i++) {
            float p = probs[off + i];
            if (p <= 0f) continue;
            cdf += p;
            lastPositive = i;
            if (coin < cdf) return i;
        }
        if (lastPositive < 0) throw new IllegalArgumentException("a distribution with no mass");
        return lastPositive; // rounding left the cdf just below the coin
    }
}
