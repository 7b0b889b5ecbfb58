package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A ggml block type of 32 values with an f16 scale (Q8_0, Q4_0), multiplied with either
 * {@link QuantKernel}: decoded float rows (the default: exact activations, a row's result does not
 * depend on the batch) or ggml's int8-by-int8 block products on activations quantized once per call.
 * Subclasses say how one row is dotted in each mode.
 */
abstract sealed class Int8BlockMatrix extends DequantizingMatrix permits Q8_0Matrix, Q4_0Matrix {

    static final int BLOCK = 32;

    private final QuantKernel kernel;
    private final boolean vectorized;

    Int8BlockMatrix(TensorType type, MemorySegment data, int rows, int cols, QuantKernel kernel, boolean vectorized) {
        super(type, data, rows, cols);
        this.kernel = kernel;
        this.vectorized = vectorized;
    }

    public QuantKernel kernel() { return kernel; }

    @Override
    public final WeightMatrix withSegment(MemorySegment copy) {
        return WeightMatrices.of(type(), copy, rows, cols, kernel);
    }

    @Override
    public final void matmul(float[] x, int xOff, int xStride, int batch,
                             float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        if (kernel == QuantKernel.DECODE_ROW) {
            if (batch == 1 && vectorized) {
                for (int r = rowStart; r < rowEnd; r++) out[outOff + r] = decodingDot(r * rowBytes, x, xOff);
            } else {
                super.matmul(x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
            }
            return;
        }
        Q8Activations q = KernelScratch.get().activations();
        q.quantize(x, xOff, xStride, batch, cols);
        int blocks = cols / BLOCK;
        for (int r = rowStart; r < rowEnd; r++) {
            long rowBase = r * rowBytes;
            for (int b = 0; b < batch; b++) {
                out[outOff + b * outStride + r] = vectorized
                        ? int8Dot(rowBase, q.values, b * cols, q.scales, b * blocks)
                        : int8DotScalar(rowBase, q.values, b * cols, q.scales, b * blocks);
            }
        }
    }

    /** Row at {@code rowBase} times one float activation vector, bit-identical to decodeRow then a float dot. */
    abstract float decodingDot(long rowBase, float[] x, int xOff);

    /** Row at {@code rowBase} times one int8-quantized activation vector (quants and per-block scales). */
    abstract float int8Dot(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff);

    /** The scalar fallback of {@link #int8Dot} for vector shapes the vectorized kernel cannot use. */
    abstract float int8DotScalar(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff);
}
