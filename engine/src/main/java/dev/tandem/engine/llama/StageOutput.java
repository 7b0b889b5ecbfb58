package dev.tandem.engine.llama;

import dev.tandem.engine.sampling.GreedySampler;

/**
 * The result of one {@link LlamaStage#forward} call, owned and reused by the stage: it is valid until the
 * next call. Holds the hidden states of all rows ({@code rows x dim}, the residual stream after the stage's
 * last layer) and, for the last stage, the logits of the rows that asked for them.
 */
public final class StageOutput {

    private final int dim;
    private final int vocab;
    private final OutputHead head;
    private int rows;
    private float[] hidden;
    private float[] logits;
    private int[] logitIndex = new int[0];
    private int[] greedyTokens = new int[0];
    private int logitRows;

    StageOutput(int dim, int vocab, OutputHead head) {
        this.dim = dim;
        this.vocab = vocab;
        this.head = head;
    }

    void set(int rows, float[] hidden, float[] logits, int[] logitIndex, int[] greedyTokens, int logitRows) {
        this.rows = rows;
        this.hidden = hidden;
        this.logits = logits;
        this.logitIndex = logitIndex;
        this.greedyTokens = greedyTokens;
        this.logitRows = logitRows;
    }

    public int rows() { return rows; }

    public int dim() { return dim; }

    public int vocabSize() { return vocab; }

    /** The last stage's head, which turns a row's {@link #hidden} state into its logits later; null on other stages. */
    public OutputHead outputHead() { return head; }

    /** Row-major {@code rows x dim} hidden states; the array may be longer than rows*dim. */
    public float[] hidden() { return hidden; }

    public int hiddenOffset(int row) {
        checkRow(row);
        return row * dim;
    }

    /** Number of rows that went through the head: rows with logits or with a screened greedy token. */
    public int logitRows() { return logitRows; }

    /** Whether the row has its whole logits row (a {@link RowOutput#GREEDY_TOKEN} row may have only its token). */
    public boolean hasLogits(int row) {
        checkRow(row);
        return logits != null && logitIndex[row] >= 0;
    }

    /** Whether {@link #argmax} answers for the row: it has logits or a greedy token. */
    public boolean hasGreedyToken(int row) {
        return hasLogits(row) || greedyTokens[row] >= 0;
    }

    /** Logits of all rows that have them, {@code vocab} floats each; see {@link #logitsOffset(int)}. */
    public float[] logits() { return logits; }

    /** Where row {@code row}'s {@code vocab} logits start in {@link #logits()}. */
    public int logitsOffset(int row) {
        if (!hasLogits(row)) throw new IllegalStateException("row " + row + " has no logits");
        return logitIndex[row] * vocab;
    }

    /**
     * The greedy token of a row with logits or a {@link RowOutput#GREEDY_TOKEN} row (ties go to the lowest id, as
     * llama2.c); the same token either way.
     */
    public int argmax(int row) {
        checkRow(row);
        if (greedyTokens[row] >= 0) return greedyTokens[row];
        return GreedySampler.argmax(logits, logitsOffset(row), vocab);
    }

    private void checkRow(int row) {
        if (row < 0 || row >= rows) throw new IndexOutOfBoundsException("row " + row + " of " + rows);
    }
}
