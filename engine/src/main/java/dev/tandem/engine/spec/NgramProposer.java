package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

/**
 * Prompt lookup: finds the most recent earlier occurrence of the sequence's last n tokens (n from
 * {@link #MAX_NGRAM} down to {@link #MIN_NGRAM}) in its own history and proposes the tokens that followed it.
 * Free of training and of any forward pass; it shines on text that repeats itself (names, refrains, code).
 * Proposals are certain (q one-hot), which the sampling acceptance test handles exactly.
 */
public final class NgramProposer implements Proposer {

    public static final String NAME = "ngram";
    public static final int MAX_NGRAM = 3;
    public static final int MIN_NGRAM = 1;

    private final int maxNgram;
    private final int minNgram;

    public NgramProposer() {
        this(MAX_NGRAM, MIN_NGRAM);
    }

    public NgramProposer(int maxNgram, int minNgram) {
        if (minNgram < 1 || maxNgram < minNgram) throw new IllegalArgumentException("bad n-gram range " + minNgram + ".." + maxNgram);
        this.maxNgram = maxNgram;
        this.minNgram = minNgram;
    }

    @Override
    public String name() { return NAME; }

    @Override
    public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
        if (maxDrafts <= 0) return;
        int[] h = history.array();
        int length = history.length();
        for (int n = Math.min(maxNgram, length - 1); n >= minNgram; n--) {
            int match = lastOccurrence(h, length, n);
            if (match < 0) continue;
            int from = match + n;
            int to = Math.min(from + maxDrafts, length);
            for (int i = from; i < to; i++) draft.addCertain(h[i]);
            return;
        }
    }

    /** Start of the latest occurrence of h[length - n, length) that ends before length - 1, or -1. */
    private static int lastOccurrence(int[] h, int length, int n) {
        int suffix = length - n;
        for (int start = suffix - 1; start >= 0; start--) {
            int i = 0;
            while (i < n && h[start + i] == h[suffix + i]) i++;
            if (i == n) return start;
        }
        return -1;
    }

    public static ProposerFactory factory() {
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) { return new NgramProposer(); }
        };
    }
}
