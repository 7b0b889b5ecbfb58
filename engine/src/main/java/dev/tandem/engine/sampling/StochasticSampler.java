package dev.tandem.engine.sampling;

import dev.tandem.engine.tensor.Exponentials;

/**
 * Samples from the softmax of logits / temperature, optionally restricted to the k most likely
 * tokens and/or the top-p nucleus. With top-k off this is llama2.c's {@code sample}: plain
 * multinomial when top-p is off, {@code sample_topp} otherwise (only tokens with probability at
 * least (1 - p) / (n - 1) are sorted, since they are the only ones that can be in the nucleus).
 * With top-k on, the k most likely are selected with a heap, then the nucleus is taken within
 * their renormalized mass. One uniform draw per call, from a seeded {@link XorShiftRandom}.
 *
 * <p>Owns its buffers and random state: one instance per sequence, not thread-safe. Once the
 * buffers fit the vocabulary, {@link #sample} allocates nothing.
 */
public final class StochasticSampler implements Sampler {

    private final SamplerSettings settings;
    private final XorShiftRandom random;
    private long[] keys;

    public StochasticSampler(SamplerSettings settings, int vocabSize) {
        if (settings.isGreedy()) {
            throw new IllegalArgumentException("temperature 0 is greedy sampling; use GreedySampler (Samplers.create)");
        }
        if (vocabSize < 0) throw new IllegalArgumentException("negative vocabulary size " + vocabSize);
        this.settings = settings;
        this.random = new XorShiftRandom(settings.seed());
        this.keys = new long[vocabSize];
    }

    public SamplerSettings settings() { return settings; }

    @Override
    public int sample(float[] logits, int off, int vocab) {
        if (vocab <= 0) throw new IllegalArgumentException("empty vocabulary");
        if (keys.length < vocab) keys = new long[vocab];
        float temperature = settings.temperature();
        for (int i = off; i < off + vocab; i++) logits[i] /= temperature;
        softmax(logits, off, vocab);
        float coin = random.nextFloat();

        int topK = settings.topK();
        boolean useTopK = topK > 0 && topK < vocab;
        boolean useTopP = settings.topP() < 1f;
        if (!useTopK && !useTopP) return sampleMultinomial(logits, off, vocab, coin);

        int n = useTopK ? selectTopK(logits, off, vocab, topK) : selectNucleusCandidates(logits, off, vocab);
        // A tiny p on a flat distribution can leave no token above the cutoff: the nucleus is then the top token.
        if (n == 0) return GreedySampler.argmax(logits, off, vocab);
        CandidateKeys.sortDescending(keys, n);
        return sampleSorted(n, useTopP, useTopK, coin);
    }

    /** run.c's {@code sample_mult}: the first token whose cumulative probability exceeds the coin. */
    private static int sampleMultinomial(float[] probs, int off, int vocab, float coin) {
        float cdf = 0f;
        for (int i = 0; i < vocab; i++) {
            cdf += probs[off + i];
            if (coin < cdf) return i;
        }
        return vocab - 1; // rounding left the cdf just below the coin
    }

    private int selectTopK(float[] probs, int off, int vocab, int k) {
        int size = 0;
        for (int i = 0; i < vocab; i++) size = CandidateKeys.offerTopK(keys, size, k, CandidateKeys.key(probs[off + i], i));
        return size;
    }

    /** Tokens below (1 - p) / (n - 1) cannot be in the nucleus, so sorting can skip them (run.c). */
    private int selectNucleusCandidates(float[] probs, int off, int vocab) {
        if (vocab == 1) {
            keys[0] = CandidateKeys.key(probs[off], 0); // run.c would divide by zero here
            return 1;
        }
        float cutoff = (1.0f - settings.topP()) / (vocab - 1);
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (probs[off + i] >= cutoff) keys[n++] = CandidateKeys.key(probs[off + i], i);
        }
        return n;
    }

    /** Truncates the sorted candidates to the nucleus, then draws within their mass (run.c's {@code sample_topp}). */
    private int sampleSorted(int n, boolean useTopP, boolean useTopK, float coin) {
        float threshold = settings.topP();
        if (useTopP && useTopK) {
            float mass = 0f;
            for (int i = 0; i < n; i++) mass += CandidateKeys.probability(keys[i]);
            threshold *= mass;
        }
        float cumulative = 0f;
        int last = n - 1;
        for (int i = 0; i < n; i++) {
            cumulative += CandidateKeys.probability(keys[i]);
            if (useTopP && cumulative > threshold) {
                last = i;
                break;
            }
        }
        float r = coin * cumulative;
        float cdf = 0f;
        for (int i = 0; i <= last; i++) {
            cdf += CandidateKeys.probability(keys[i]);
            if (r < cdf) return CandidateKeys.token(keys[i]);
        }
        return CandidateKeys.token(keys[last]);
    }

    /** In-place softmax of {@code x[off .. off + n)}, shifted by the maximum for stability. */
    static void softmax(float[] x, int off, int n) {
        float max = x[off];
        for (int i = off + 1; i < off + n; i++) if (x[i] > max) max = x[i];
        Exponentials.expShifted(x, off, n, max);
        float sum = 0f;
        for (int i = off; i < off + n; i++) sum += x[i];
        for (int i = off; i < off + n; i++) x[i] /= sum;
    }
}
