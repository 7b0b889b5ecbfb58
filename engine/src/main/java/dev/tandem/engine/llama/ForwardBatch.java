package dev.tandem.engine.llama;

import java.util.Arrays;

/**
 * The input of one forward call, reusable across calls: rows of (sequence id, position, token or hidden
 * state, whether the row wants logits). Several sequences may share a batch; the rows of one sequence are
 * contiguous with consecutive increasing positions (a prompt prefill or the verification of k draft tokens
 * is one run of rows). A batch holds either tokens (for the first stage) or hidden states (for the
 * others), never both. Storage grows when needed and is kept by {@link #clear()}.
 */
public final class ForwardBatch {

    /** {@link #expectedToken} of a row that expects nothing. */
    public static final int NO_EXPECTATION = -1;

    private final int dim;
    private int rows;
    private long[] seqIds;
    private int[] positions;
    private int[] tokens;
    private RowOutput[] outputs;
    /** Per row: the token its greedy token is checked against ({@link #NO_EXPECTATION} for none). */
    private int[] expected;
    private float[] hidden;
    private int logitRows;
    /** Whether the rows hold tokens; meaningful only when rows > 0. */
    private boolean tokenRows;

    public ForwardBatch(int dim, int initialCapacity) {
        if (dim <= 0) throw new IllegalArgumentException("dim must be positive, got " + dim);
        this.dim = dim;
        int cap = Math.max(1, initialCapacity);
        seqIds = new long[cap];
        positions = new int[cap];
        tokens = new int[cap];
        outputs = new RowOutput[cap];
        expected = new int[cap];
        hidden = new float[cap * dim];
    }

    public void clear() {
        rows = 0;
        logitRows = 0;
    }

    /** Appends a token row; returns its row index. */
    public int addToken(long seqId, int position, int token, boolean wantLogits) {
        return addToken(seqId, position, token, RowOutput.of(wantLogits));
    }

    /** Appends a token row that wants {@code output}; returns its row index. */
    public int addToken(long seqId, int position, int token, RowOutput output) {
        int row = addRow(seqId, position, output, true);
        tokens[row] = token;
        return row;
    }

    /** Appends a hidden-state row copied from {@code src[off .. off + dim)}; returns its row index. */
    public int addHidden(long seqId, int position, float[] src, int off, boolean wantLogits) {
        return addHidden(seqId, position, src, off, RowOutput.of(wantLogits));
    }

    /** Appends a hidden-state row that wants {@code output}; returns its row index. */
    public int addHidden(long seqId, int position, float[] src, int off, RowOutput output) {
        int row = addRow(seqId, position, output, false);
        System.arraycopy(src, off, hidden, row * dim, dim);
        return row;
    }

    private int addRow(long seqId, int position, RowOutput output, boolean isToken) {
        if (output == null) throw new IllegalArgumentException("a row needs an output kind");
        if (position < 0) throw new IllegalArgumentException("position must be >= 0, got " + position);
        if (rows > 0 && tokenRows != isToken) {
            throw new IllegalStateException("a batch holds either tokens or hidden states, not both");
        }
        if (rows > 0 && seqIds[rows - 1] == seqId && positions[rows - 1] + 1 != position) {
            throw new IllegalArgumentException("rows of sequence " + seqId + " must have consecutive positions: "
                    + positions[rows - 1] + " then " + position);
        }
        ensureCapacity(rows + 1);
        tokenRows = isToken;
        int row = rows++;
        seqIds[row] = seqId;
        positions[row] = position;
        outputs[row] = output;
        expected[row] = NO_EXPECTATION;
        if (output.usesHead()) logitRows++;
        return row;
    }

    /**
     * Declares that greedy row {@code row} is checked against {@code token}, as a verification checks a draft token
     * against the target's greedy token: once a row's greedy token differs from its expected one, the later rows of
     * its sequence in this batch need no head output, and a last stage may leave them without one (their hidden
     * states are still computed; see {@link LlamaStage#forward}). The rows up to and including the first mismatch
     * always get their greedy tokens.
     */
    public void expectGreedyToken(int row, int token) {
        check(row);
        if (outputs[row] != RowOutput.GREEDY_TOKEN) {
            throw new IllegalArgumentException("row " + row + " wants " + outputs[row] + ", not its greedy token: nothing to check");
        }
        if (token < 0) throw new IllegalArgumentException("expected token " + token + " is negative");
        expected[row] = token;
    }

    /** The token row {@code row}'s greedy token is checked against, or {@link #NO_EXPECTATION}. */
    public int expectedToken(int row) { return expected[check(row)]; }

    /** Grows the storage to hold at least {@code capacity} rows (call outside the hot path to avoid growth there). */
    public void ensureCapacity(int capacity) {
        if (capacity <= seqIds.length) return;
        int cap = Math.max(capacity, seqIds.length * 2);
        seqIds = Arrays.copyOf(seqIds, cap);
        positions = Arrays.copyOf(positions, cap);
        tokens = Arrays.copyOf(tokens, cap);
        outputs = Arrays.copyOf(outputs, cap);
        expected = Arrays.copyOf(expected, cap);
        hidden = Arrays.copyOf(hidden, cap * dim);
    }

    public int rows() { return rows; }

    public int dim() { return dim; }

    public int capacity() { return seqIds.length; }

    /** True when the rows carry tokens, false when they carry hidden states (or the batch is empty). */
    public boolean hasTokens() { return rows > 0 && tokenRows; }

    public long seqId(int row) { return seqIds[check(row)]; }

    public int position(int row) { return positions[check(row)]; }

    public int token(int row) {
        if (!tokenRows) throw new IllegalStateException("the batch holds hidden states, not tokens");
        return tokens[check(row)];
    }

    /** Whether the row goes through the head: it wants its logits or its greedy token. */
    public boolean wantsLogits(int row) { return outputs[check(row)].usesHead(); }

    public RowOutput output(int row) { return outputs[check(row)]; }

    /** Number of rows that go through the head. */
    public int logitRows() { return logitRows; }

    /** Hidden states, row-major {@code rows x dim}; valid for hidden-state batches. Its length may exceed rows*dim. */
    public float[] hidden() { return hidden; }

    private int check(int row) {
        if (row < 0 || row >= rows) throw new IndexOutOfBoundsException("row " + row + " of " + rows);
        return row;
    }
}
