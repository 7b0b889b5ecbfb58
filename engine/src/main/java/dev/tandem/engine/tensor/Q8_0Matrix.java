package dev.tandem.engine.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * ggml's Q8_0 matrix: blocks of 32 values, each an f16 scale d then 32 int8 quants (value = d * q).
 * Multiplies with either {@link QuantKernel}: decoded float rows, or ggml's int8-by-int8 products
 * scaled per block by both scales.
 */
public final class Q8_0Matrix extends DequantizingMatrix {

    static final int BLOCK = 32;
    private static final int BLOCK_BYTES = 34;
    private static final int QUANTS_OFFSET = 2;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** As many bytes as F has lanes; needs at least 8 lanes (the narrowest vector shape is 64 bits). */
    static final boolean VECTORIZED = F.length() >= 8 && BLOCK % F.length() == 0;
    private static final VectorSpecies<Byte> B = VECTORIZED
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;

    private final QuantKernel kernel;

    public Q8_0Matrix(MemorySegment data, int rows, int cols) {
        this(data, rows, cols, QuantKernel.DECODE_ROW);
    }

    public Q8_0Matrix(MemorySegment data, int rows, int cols, QuantKernel kernel) {
        super(TensorType.Q8_0, data, rows, cols);
        this.kernel = kernel;
    }

    public QuantKernel kernel() { return kernel; }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        if (kernel == QuantKernel.DECODE_ROW) {
            if (batch == 1 && VECTORIZED) {
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
                out[outOff + b * outStride + r] = VECTORIZED
                        ? int8Dot(rowBase, q.values, b * cols, q.scales, b * blocks)
                        : int8DotScalar(rowBase, q.values, b * cols, q.scales, b * blocks);
            }
        }
    }

    /**
     * One row times one activation vector without the scratch round trip: the same operations in
     * the same order as decodeRow followed by VectorDot.dot, so the result is bit-identical to the
     * batched path (32-value blocks hold whole vectors, so there is no tail).
     */
    private float decodingDot(long rowBase, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(F);
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            FloatVector scale = FloatVector.broadcast(F, Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)));
            for (int j = 0; j < BLOCK; j += B.length()) {
                FloatVector w = ((FloatVector) ByteVector.fromMemorySegment(B, data, block + QUANTS_OFFSET + j, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(scale);
                acc = w.fma(FloatVector.fromArray(F, x, xOff + k * BLOCK + j), acc);
            }
        }
        return LaneSums.sum(acc);
    }

    private float int8Dot(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff) {
        FloatVector acc = FloatVector.zero(F);
        int blocks = cols / BLOCK;
        for (int k = 0; k < blocks; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            int xBlock = xqOff + k * BLOCK;
            IntVector sum = IntVector.zero(I);
            for (int j = 0; j < BLOCK; j += B.length()) {
                IntVector w = (IntVector) ByteVector.fromMemorySegment(B, data, block + QUANTS_OFFSET + j, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector v = (IntVector) ByteVector.fromArray(B, xq, xBlock + j).convertShape(VectorOperators.B2I, I, 0);
                sum = w.mul(v).add(sum);
            }
            float scale = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)) * xd[xdOff + k];
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return LaneSums.sum(acc);
    }

    private float int8DotScalar(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff) {
        float total = 0f;
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            int sum = 0;
            for (int j = 0; j < BLOCK; j++) {
                sum += data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j) * xq[xqOff + k * BLOCK + j];
            }
            total += sum * Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)) * xd[xdOff + k];
        }
        return total;
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowOffset + (long) k * BLOCK_BYTES;
            float d = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block));
            int out = dstOff + k * BLOCK;
            if (VECTORIZED) {
                FloatVector scale = FloatVector.broadcast(F, d);
                for (int j = 0; j < BLOCK; j += B.length()) {
                    ((FloatVector) ByteVector.fromMemorySegment(B, data, block + QUANTS_OFFSET + j, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2F, F, 0)).mul(scale).intoArray(dst, out + j);
                }
            } else {
                for (int j = 0; j < BLOCK; j++) dst[out + j] = d * data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j);
            }
        }
    }
}
