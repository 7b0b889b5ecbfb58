package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A read-only weight matrix of {@code rows x cols} values, stored (usually memory-mapped) in one
 * {@link TensorType}, row-major except in {@link PackedF32Matrix}'s layout. The hot operation is a
 * matrix-times-batch product over a range of rows, so that callers can split rows across threads and
 * multi-token forwards read each weight once.
 *
 * <p>Implementations must not allocate on the hot path (scratch space, if any, is reused per thread).
 */
public interface WeightMatrix {

    int rows();

    int cols();

    TensorType type();

    /**
     * For every batch row b in [0, batch) and every matrix row r in [rowStart, rowEnd):
     * {@code out[outOff + b*outStride + r] = dot(row r, x[xOff + b*xStride .. + cols))}.
     */
    void matmul(float[] x, int xOff, int xStride, int batch,
                float[] out, int outOff, int outStride, int rowStart, int rowEnd);

    /** Writes row {@code r}, dequantized to float, into {@code dst[dstOff .. dstOff + cols)}. */
    void readRow(int r, float[] dst, int dstOff);

    /**
     * The stored bytes this matrix reads, in its {@link #type()} and layout (rows one after another, but for
     * {@link PackedF32Matrix}'s interleaved blocks).
     */
    MemorySegment segment();

    /**
     * The same matrix (type, shape, kernel) reading {@code copy}, which must hold the same bytes as
     * {@link #segment()}: how weights move to other memory (huge pages) without changing a result.
     */
    WeightMatrix withSegment(MemorySegment copy);
}
