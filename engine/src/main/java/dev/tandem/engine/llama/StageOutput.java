package dev.tandem.engine.llama;

/**
 * The result of one {@link LlamaStage#forward} call, owned and reused by the stage: it is valid until the
 * next call. Holds the hidden states of all rows ({@code rows x dim}, the residual stream after the stage's
 * last layer) and, for the last stage, the logits of the rows that asked for them.
 */
public final class StageOutput {

    private final int dim;
    private final int vocab;
    private int rows;
    private float[] hidden;
    private float[] logits;
    private int[] logitIndex = new int[0];
    private int logitRows;

    StageOutput(int dim, int vocab) {
        this.dim = dim;
        this.vocab = vocab;
    }

    void set(int rows, float[] hidden, float[] logits, int[] logitIndex, int logitRows) {
        this.rows = rows;
        this.hidden = hidden;
        this.logits = logits;
        this.logitIndex = logitIndex;
        this.logitRows = logitRows;
    }

    public int rows() { return rows; }

    public int dim() { return dim; }

    public int vocabSize() { return vocab; }

    /** Row-major {@code rows x dim} hidden states; the array may be longer than rows*dim. */
    public float[] hidden() { return hidden; }

    public int hiddenOffset(int row) {
        checkRow(row);
        return row * dim;
    }

    /** Number of rows with logits. */
    public int logitRows() { return logitRows; }

    public boolean hasLogits(int row) {
        checkRow(row);
        return logits != null && logitIndex[row] >= 0;
    }

    /** Logits of all rows that have them, {@code vocab} floats each; see {@link #logitsOffset(int)}. */
    public float[] logits() { return logits; }

    /** Where row {@code row}'s {@code vocab} logits start in {@link #logits()}. */
    public int logitsOffset(int row) {
        if (!hasLogits(row)) throw new IllegalStateException("row " + row + " has no logits");
        return logitIndex[row] * vocab;
    }

    /** The greedy token of a row with logits (ties go to the lowest id, as llama2.c). */
    public int argmax(int row) {
        int off = logitsOffset(row);
        int best = 0;
        float bestValue = logits[off];
        for (int i = 1; i < vocab; i++) {
            float v = logits[off + i];
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return best;
    }

    private void checkRow(int row) {
        if (row < 0 || row >= rows) throw new IndexOutOfBoundsException("row " + row + " of " + rows);
    }
}
