package dev.tandem.engine.spec;

import java.util.Arrays;

/**
 * The tokens a proposer drafted for one sequence in one step, and, when the target samples, the
 * distribution q each was drawn from (the acceptance test needs q(x) and the residual max(0, p - q)).
 * A deterministic proposal (n-gram lookup, or any draft under greedy decoding) is one-hot: q(x) = 1,
 * stored as a flag instead of a vocabulary-wide row. Reused across steps; rows are allocated once.
 */
public final class Draft {

    private final int vocab;
    private final int capacity;
    private final int[] tokens;
    private final boolean[] oneHot;
    /** capacity x vocab, allocated on the first non-one-hot row. */
    private float[] probabilities;
    private int count;

    public Draft(int capacity, int vocab) {
        if (capacity < 0 || vocab <= 0) throw new IllegalArgumentException("bad draft shape " + capacity + " x " + vocab);
        this.capacity = capacity;
        this.vocab = vocab;
        this.tokens = new int[capacity];
        this.oneHot = new boolean[capacity];
    }

    public void clear() { count = 0; }

    public int count() { return count; }

    public int capacity() { return capacity; }

    public int vocab() { return vocab; }

    public int token(int i) {
        check(i);
        return tokens[i];
    }

    /** Adds a token proposed with certainty (q is one-hot on it). */
    public void addCertain(int token) {
        int i = next(token);
        oneHot[i] = true;
    }

    /**
     * Adds a token drawn from a distribution; returns the offset of its q row in {@link #probabilities()},
     * which the caller fills ({@code vocab} floats, summing to 1, q(token) > 0).
     */
    public int addSampled(int token) {
        int i = next(token);
        oneHot[i] = false;
        if (probabilities == null) probabilities = new float[capacity * vocab];
        return i * vocab;
    }

    public boolean isOneHot(int i) {
        check(i);
        return oneHot[i];
    }

    /** q of draft position i at {@code token}. */
    public float q(int i, int token) {
        check(i);
        if (oneHot[i]) return token == tokens[i] ? 1f : 0f;
        return probabilities[i * vocab + token];
    }

    /** The q rows (for rows added with {@link #addSampled}); row i starts at {@code i * vocab()}. */
    public float[] probabilities() { return probabilities; }

    public int[] tokensCopy() { return Arrays.copyOf(tokens, count); }

    private int next(int token) {
        if (count == capacity) throw new IllegalStateException("the draft holds at most " + capacity + " tokens");
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token " + token + " outside the vocabulary of " + vocab);
        tokens[count] = token;
        return count++;
    }

    private void check(int i) {
        if (i < 0 || i >= count) throw new IndexOutOfBoundsException("draft token " + i + " of " + count);
    }
}
