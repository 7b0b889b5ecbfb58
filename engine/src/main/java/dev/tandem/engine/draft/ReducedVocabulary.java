package dev.tandem.engine.draft;

import java.util.Arrays;

/**
 * The target tokens a draft model can propose: a sorted array of distinct target token ids. The draft's
 * output head has one row per entry (row i scores target token {@code tokenAt(i)}), so its cost follows
 * the vocabulary the traffic actually uses rather than the target's full vocabulary.
 */
public final class ReducedVocabulary {

    private final int[] tokens;
    private final int targetVocabSize;

    public ReducedVocabulary(int[] tokens, int targetVocabSize) {
        if (tokens.length == 0) throw new IllegalArgumentException("a reduced vocabulary needs at least one token");
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= targetVocabSize) {
                throw new IllegalArgumentException("token " + tokens[i] + " outside the target vocabulary of " + targetVocabSize);
            }
            if (i > 0 && tokens[i] <= tokens[i - 1]) {
                throw new IllegalArgumentException("reduced vocabulary ids must be sorted and distinct (at index " + i + ")");
            }
        }
        this.tokens = tokens.clone();
        this.targetVocabSize = targetVocabSize;
    }

    /** The first {@code size} token ids (for SentencePiece vocabularies: special and byte tokens, then merges by score). */
    public static ReducedVocabulary firstTokens(int size, int targetVocabSize) {
        int n = Math.min(size, targetVocabSize);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        return new ReducedVocabulary(ids, targetVocabSize);
    }

    /** The whole target vocabulary (no reduction). */
    public static ReducedVocabulary full(int targetVocabSize) {
        return firstTokens(targetVocabSize, targetVocabSize);
    }

    /** The union of the given token ids and the first {@code baseSize} ids. */
    public static ReducedVocabulary of(int[] extra, int baseSize, int targetVocabSize) {
        boolean[] used = new boolean[targetVocabSize];
        for (int i = 0; i < Math.min(baseSize, targetVocabSize); i++) used[i] = true;
        for (int t : extra) used[t] = true;
        int n = 0;
        for (boolean u : used) if (u) n++;
        int[] ids = new int[n];
        for (int t = 0, i = 0; t < targetVocabSize; t++) if (used[t]) ids[i++] = t;
        return new ReducedVocabulary(ids, targetVocabSize);
    }

    public int size() { return tokens.length; }

    public int targetVocabSize() { return targetVocabSize; }

    public int tokenAt(int index) { return tokens[index]; }

    /** The row of target token {@code token}, or -1 when it is not in the reduced vocabulary. */
    public int indexOf(int token) {
        int i = Arrays.binarySearch(tokens, token);
        return i >= 0 ? i : -1;
    }

    public boolean isFull() { return tokens.length == targetVocabSize; }

    /** A copy of the sorted ids. */
    public int[] tokens() { return tokens.clone(); }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReducedVocabulary r && r.targetVocabSize == targetVocabSize && Arrays.equals(r.tokens, tokens);
    }

    @Override
    public int hashCode() { return Arrays.hashCode(tokens) * 31 + targetVocabSize; }
}
