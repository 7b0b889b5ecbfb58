package dev.tandem.engine.spec;

import java.util.Arrays;

/**
 * The committed tokens of one sequence: the prompt (with BOS) followed by every token accepted so far.
 * Owned by whoever runs the sequence (the in-process generator, or the coordinator's session); proposers
 * only read it. Storage grows when needed and is kept.
 */
public final class TokenHistory {

    private int[] tokens;
    private int length;
    private final int promptLength;

    public TokenHistory(int[] prompt, int capacity) {
        if (prompt.length == 0) throw new IllegalArgumentException("a sequence starts with at least one token");
        this.tokens = Arrays.copyOf(prompt, Math.max(capacity, prompt.length));
        this.length = prompt.length;
        this.promptLength = prompt.length;
    }

    public int length() { return length; }

    public int promptLength() { return promptLength; }

    public int get(int i) {
        if (i < 0 || i >= length) throw new IndexOutOfBoundsException("token " + i + " of " + length);
        return tokens[i];
    }

    public int last() { return tokens[length - 1]; }

    /** The backing array for fast scans; only {@code [0, length())} is meaningful, and callers must not write it. */
    public int[] array() { return tokens; }

    public void append(int token) {
        if (length == tokens.length) tokens = Arrays.copyOf(tokens, tokens.length * 2);
        tokens[length++] = token;
    }

    public void append(int[] src, int count) {
        for (int i = 0; i < count; i++) append(src[i]);
    }

    /** Length of the common prefix of this history and {@code other[0 .. otherLength)}. */
    public int commonPrefix(int[] other, int otherLength) {
        int n = Math.min(length, otherLength);
        int i = 0;
        while (i < n && tokens[i] == other[i]) i++;
        return i;
    }

    public int[] toArray() { return Arrays.copyOf(tokens, length); }
}
