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
 * ggml's Q4_0 matrix: blocks of 32 values, each an f16 scale d then 16 bytes whose low nibbles are
 * elements 0..15 and high nibbles elements 16..31; value = (nibble - 8) * d. Multiplies with either
 * {@link QuantKernel}: decoded float rows, or ggml's vec_dot_q4_0_q8_0 scheme (nibbles times
 * int8-quantized activations).
 */
public final class Q4_0Matrix extends DequantizingMatrix {

    static final int BLOCK = 32;
    private static final int HALF_BLOCK = 16;
    private static final int BLOCK_BYTES = 18;
    private static final int QUANTS_OFFSET = 2;
    private static final int NIBBLE = 0xf;
    private static final int NIBBLE_BITS = 4;
    private static final int ZERO_POINT = 8;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final boolean VECTORIZED = F.length() >= 8 && HALF_BLOCK % F.length() == 0;
    private static final VectorSpecies<Byte> B = VECTORIZED
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;

    private final QuantKernel kernel;

    public Q4_0Matrix(MemorySegment data, int rows, int cols) {
        this(data, rows, cols, QuantKernel.DECODE_ROW);
    }

    public Q4_0Matrix(MemorySegment data, int rows, int cols, QuantKernel kernel) {
        super(TensorType.Q4_0, data, rows, cols);
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
     * One row times one activation vector without the scratch round trip, bit-identical to decodeRow
     * followed by VectorDot.dot: the same operations, accumulated in element order (all low-nibble
     * chunks of a block, then all high-nibble chunks).
     */
    private float decodingDot(long rowBase, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(F);
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            FloatVector scale = FloatVector.broadcast(F, Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)));
            int xBlock = xOff + k * BLOCK;
            for (int j = 0; j < HALF_BLOCK; j += B.length()) {
                FloatVector w = ((FloatVector) packedQuants(block, j).and(NIBBLE).sub(ZERO_POINT)
                        .convert(VectorOperators.I2F, 0)).mul(scale);
                acc = w.fma(FloatVector.fromArray(F, x, xBlock + j), acc);
            }
            for (int j = 0; j < HALF_BLOCK; j += B.length()) {
                FloatVector w = ((FloatVector) packedQuants(block, j).lanewise(VectorOperators.LSHR, NIBBLE_BITS).and(NIBBLE)
                        .sub(ZERO_POINT).convert(VectorOperators.I2F, 0)).mul(scale);
                acc = w.fma(FloatVector.fromArray(F, x, xBlock + HALF_BLOCK + j), acc);
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
            for (int j = 0; j < HALF_BLOCK; j += B.length()) {
                IntVector packed = packedQuants(block, j);
                IntVector low = packed.and(NIBBLE).sub(ZERO_POINT);
                IntVector high = packed.lanewise(VectorOperators.LSHR, NIBBLE_BITS).and(NIBBLE).sub(ZERO_POINT);
                IntVector xLow = (IntVector) ByteVector.fromArray(B, xq, xBlock + j).convertShape(VectorOperators.B2I, I, 0);
                IntVector xHigh = (IntVector) ByteVector.fromArray(B, xq, xBlock + HALF_BLOCK + j).convertShape(VectorOperators.B2I, I, 0);
                sum = low.mul(xLow).add(high.mul(xHigh)).add(sum);
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
            int xBlock = xqOff + k * BLOCK;
            int sum = 0;
            for (int j = 0; j < HALF_BLOCK; j++) {
                int packed = data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j) & 0xff;
                sum += ((packed & NIBBLE) - ZERO_POINT) * xq[xBlock + j]
                        + ((packed >>> NIBBLE_BITS) - ZERO_POINT) * xq[xBlock + HALF_BLOCK + j];
            }
            total += sum * Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)) * xd[xdOff + k];
        }
        return total;
    }

    /** Bytes j .. j+lanes of a block's quants, each widened to an int lane (sign-extended; callers mask). */
    private IntVector packedQuants(long block, int j) {
        return (IntVector) ByteVector.fromMemorySegment(B, data, block + QUANTS_OFFSET + j, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2I, I, 0);
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowOffset + (long) k * BLOCK_BYTES;
            float d = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block));
            int out = dstOff + k * BLOCK;
            if (VECTORIZED) {
                FloatVector scale = FloatVector.broadcast(F, d);
                for (int j = 0; j < HALF_BLOCK; j += B.length()) {
                    IntVector packed = packedQuants(block, j);
                    ((FloatVector) packed.and(NIBBLE).sub(ZERO_POINT).convert(VectorOperators.I2F, 0))
                            .mul(scale).intoArray(dst, out + j);
                    ((FloatVector) packed.lanewise(VectorOperators.LSHR, NIBBLE_BITS).and(NIBBLE).sub(ZERO_POINT)
                            .convert(VectorOperators.I2F, 0)).mul(scale).intoArray(dst, out + HALF_BLOCK + j);
                }
            } else {
                for (int j = 0; j < HALF_BLOCK; j++) {
                    int packed = data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j) & 0xff;
                    dst[out + j] = ((packed & NIBBLE) - ZERO_POINT) * d;
                    dst[out + HALF_BLOCK + j] = ((packed >>> NIBBLE_BITS) - ZERO_POINT) * d;
                }
            }
        }
    }
}
