package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Base of the matrices whose kernel dequantizes one row into per-thread scratch and then takes
 * float dot products with every batch row: each weight is decoded once per call, however large
 * the batch. Subclasses only say how a row is decoded.
 */
abstract sealed class DequantizingMatrix implements WeightMatrix
        permits F16Matrix, BF16Matrix, Int8BlockMatrix, Q4_KMatrix, Q6_KMatrix {

    /** Batch rows multiplied together by VectorDot.dot4. */
    private static final int DOT_GROUP = 4;

    protected final MemorySegment data;
    protected final int rows;
    protected final int cols;
    protected final long rowBytes;
    private final TensorType type;

    protected DequantizingMatrix(TensorType type, MemorySegment data, int rows, int cols) {
        this.type = type;
        this.rowBytes = MatrixShapes.rowBytes(type, data, rows, cols);
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public final int rows() { return rows; }

    @Override public final int cols() { return cols; }

    @Override public final TensorType type() { return type; }

    @Override public final MemorySegment segment() { return data; }

    @Override
    public WeightMatrix withSegment(MemorySegment copy) {
        return WeightMatrices.of(type, copy, rows, cols);
    }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                             float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        float[] row = KernelScratch.get().row(cols);
        for (int r = rowStart; r < rowEnd; r++) {
            decodeRow(r * rowBytes, row, 0);
            int b = 0;
            for (; b + DOT_GROUP <= batch; b += DOT_GROUP) {
                VectorDot.dot4(row, 0, x, xOff + b * xStride, xStride, cols, out, outOff + b * outStride + r, outStride);
            }
            for (; b < batch; b++) {
                out[outOff + b * outStride + r] = VectorDot.dot(row, 0, x, xOff + b * xStride, cols);
            }
        }
    }

    @Override
    public final void readRow(int r, float[] dst, int dstOff) {
        decodeRow(r * rowBytes, dst, dstOff);
    }

    /** Writes the {@code cols} values of the row starting at byte {@code rowOffset} into dst. */
    protected abstract void decodeRow(long rowOffset, float[] dst, int dstOff);
}
