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
 * ggml's Q4_K matrix. A 144-byte super-block holds 256 values: f16 d, f16 dmin, 12 bytes packing
 * eight 6-bit (scale, min) pairs, then 128 bytes of 4-bit quants. The super-block is eight
 * sub-blocks of 32; sub-block s decodes as {@code d*scale[s]*q - dmin*min[s]}. Quants come in
 * 32-byte groups: the low nibbles are sub-block 2g, the high nibbles sub-block 2g+1.
 */
public final class Q4_KMatrix extends DequantizingMatrix {

    static final int SUPER_BLOCK = 256;
    private static final int SUB_BLOCK = 32;
    private static final int SCALES_OFFSET = 4;
    private static final int QUANTS_OFFSET = 16;
    private static final int SIX_BITS = 63;
    private static final int NIBBLE = 0xf;
    private static final int NIBBLE_BITS = 4;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final boolean VECTORIZED = F.length() >= 8 && SUB_BLOCK % F.length() == 0;
    private static final VectorSpecies<Byte> B = VECTORIZED
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;

    public Q4_KMatrix(MemorySegment data, int rows, int cols) {
        super(TensorType.Q4_K, data, rows, cols);
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        int blockBytes = TensorType.Q4_K.blockBytes();
        for (int blk = 0; blk < cols / SUPER_BLOCK; blk++) {
            long base = rowOffset + (long) blk * blockBytes;
            float d = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, base));
            float dmin = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, base + 2));
            int out = dstOff + blk * SUPER_BLOCK;
            for (int group = 0; group < SUPER_BLOCK / (2 * SUB_BLOCK); group++) {
                long quants = base + QUANTS_OFFSET + (long) group * SUB_BLOCK;
                int lo = 2 * group, hi = 2 * group + 1;
                float d1 = d * scale(base, lo), m1 = dmin * min(base, lo);
                float d2 = d * scale(base, hi), m2 = dmin * min(base, hi);
                if (VECTORIZED) {
                    FloatVector vd1 = FloatVector.broadcast(F, d1), vm1 = FloatVector.broadcast(F, m1);
                    FloatVector vd2 = FloatVector.broadcast(F, d2), vm2 = FloatVector.broadcast(F, m2);
                    for (int l = 0; l < SUB_BLOCK; l += B.length()) {
                        IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, quants + l, ByteOrder.LITTLE_ENDIAN)
                                .convertShape(VectorOperators.B2I, I, 0);
                        // multiply, then subtract (no FMA): the same rounding as ggml's d1 * q - m1
                        ((FloatVector) q.and(NIBBLE).convert(VectorOperators.I2F, 0)).mul(vd1).sub(vm1).intoArray(dst, out + l);
                        ((FloatVector) q.lanewise(VectorOperators.LSHR, NIBBLE_BITS).and(NIBBLE).convert(VectorOperators.I2F, 0))
                                .mul(vd2).sub(vm2).intoArray(dst, out + SUB_BLOCK + l);
                    }
                } else {
                    for (int l = 0; l < SUB_BLOCK; l++) {
                        int q = data.get(ValueLayout.JAVA_BYTE, quants + l) & 0xff;
                        dst[out + l] = d1 * (q & NIBBLE) - m1;
                        dst[out + SUB_BLOCK + l] = d2 * (q >>> NIBBLE_BITS) - m2;
                    }
                }
                out += 2 * SUB_BLOCK;
            }
        }
    }

    /** ggml's get_scale_min_k4, scale half: sub-blocks 0..3 use 6 plain bits, 4..7 are split. */
    private int scale(long base, int j) {
        if (j < 4) return scaleByte(base, j) & SIX_BITS;
        return (scaleByte(base, j + 4) & 0xf) | ((scaleByte(base, j - 4) >>> 6) << 4);
    }

    private int min(long base, int j) {
        if (j < 4) return scaleByte(base, j + 4) & SIX_BITS;
        return (scaleByte(base, j + 4) >>> 4) | ((scaleByte(base, j) >>> 6) << 4);
    }

    private int scaleByte(long base, int i) {
        return data.get(ValueLayout.JAVA_BYTE, base + SCALES_OFFSET + i) & 0xff;
    }
}
