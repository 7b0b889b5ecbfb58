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
 * elements 0..15 and high nibbles elements 16..31; value = (nibble - 8) * d. Like ggml's
 * vec_dot_q4_0_q8_0 the kernel multiplies the nibbles by int8-quantized activations.
 */
public final class Q4_0Matrix implements WeightMatrix {

    static final int BLOCK = 32;
    private static final int HALF_BLOCK = 16;
    private static final int BLOCK_BYTES = 18;
    private static final int QUANTS_OFFSET = 2;
    private static final int NIBBLE = 0xf;
    private static final int ZERO_POINT = 8;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final boolean VECTORIZED = F.length() >= 8 && HALF_BLOCK % F.length() == 0;
    private static final VectorSpecies<Byte> B = VECTORIZED
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final long rowBytes;

    public Q4_0Matrix(MemorySegment data, int rows, int cols) {
        this.rowBytes = MatrixShapes.rowBytes(TensorType.Q4_0, data, rows, cols);
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override public TensorType type() { return TensorType.Q4_0; }

    public MemorySegment segment() { return data; }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        Q8Activations q = KernelScratch.get().activations();
        q.quantize(x, xOff, xStride, batch, cols);
        int blocks = cols / BLOCK;
        for (int r = rowStart; r < rowEnd; r++) {
            long rowBase = r * rowBytes;
            for (int b = 0; b < batch; b++) {
                out[outOff + b * outStride + r] = VECTORIZED
                        ? dotVector(rowBase, q.values, b * cols, q.scales, b * blocks)
                        : dotScalar(rowBase, q.values, b * cols, q.scales, b * blocks);
            }
        }
    }

    private float dotVector(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff) {
        FloatVector acc = FloatVector.zero(F);
        int blocks = cols / BLOCK;
        for (int k = 0; k < blocks; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            int xBlock = xqOff + k * BLOCK;
            IntVector sum = IntVector.zero(I);
            for (int j = 0; j < HALF_BLOCK; j += B.length()) {
                IntVector packed = (IntVector) ByteVector.fromMemorySegment(B, data, block + QUANTS_OFFSET + j, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector low = packed.and(NIBBLE).sub(ZERO_POINT);
                IntVector high = packed.lanewise(VectorOperators.LSHR, 4).and(NIBBLE).sub(ZERO_POINT);
                IntVector xLow = (IntVector) ByteVector.fromArray(B, xq, xBlock + j).convertShape(VectorOperators.B2I, I, 0);
                IntVector xHigh = (IntVector) ByteVector.fromArray(B, xq, xBlock + HALF_BLOCK + j).convertShape(VectorOperators.B2I, I, 0);
                sum = low.mul(xLow).add(high.mul(xHigh)).add(sum);
            }
            float scale = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)) * xd[xdOff + k];
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return LaneSums.sum(acc);
    }

    private float dotScalar(long rowBase, byte[] xq, int xqOff, float[] xd, int xdOff) {
        float total = 0f;
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            int xBlock = xqOff + k * BLOCK;
            int sum = 0;
            for (int j = 0; j < HALF_BLOCK; j++) {
                int packed = data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j) & 0xff;
                sum += ((packed & NIBBLE) - ZERO_POINT) * xq[xBlock + j]
                        + ((packed >>> 4) - ZERO_POINT) * xq[xBlock + HALF_BLOCK + j];
            }
            total += sum * Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block)) * xd[xdOff + k];
        }
        return total;
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        long rowBase = r * rowBytes;
        for (int k = 0; k < cols / BLOCK; k++) {
            long block = rowBase + (long) k * BLOCK_BYTES;
            float d = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, block));
            for (int j = 0; j < HALF_BLOCK; j++) {
                int packed = data.get(ValueLayout.JAVA_BYTE, block + QUANTS_OFFSET + j) & 0xff;
                dst[dstOff + k * BLOCK + j] = ((packed & NIBBLE) - ZERO_POINT) * d;
                dst[dstOff + k * BLOCK + HALF_BLOCK + j] = ((packed >>> 4) - ZERO_POINT) * d;
            }
        }
    }
}
