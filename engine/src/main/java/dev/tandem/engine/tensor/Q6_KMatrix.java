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
 * ggml's Q6_K matrix. A 210-byte super-block holds 256 values: 128 bytes of low 4 bits (ql),
 * 64 bytes of high 2 bits (qh), 16 int8 scales (one per 16 values), then f16 d. A value is
 * {@code d * scale * (q - 32)} with the 6-bit q assembled as ggml's dequantize_row_q6_K does,
 * in two halves of 128 values: for l in 0..31, ql[l] and ql[l+32] give the low bits of values
 * l, l+32 (low nibbles) and l+64, l+96 (high nibbles), and qh[l] their high bits, two each.
 */
public final class Q6_KMatrix extends DequantizingMatrix {

    private static final int SUPER_BLOCK = 256;
    private static final int HALF = 128;
    private static final int QUARTER = 32;
    private static final int SCALE_GROUP = 16;
    private static final int QL_HALF_BYTES = 64;
    private static final int QH_HALF_BYTES = 32;
    private static final int SCALES_PER_HALF = 8;
    private static final int QH_OFFSET = 128;
    private static final int SCALES_OFFSET = 192;
    private static final int D_OFFSET = 208;
    private static final int ZERO_POINT = 32;
    private static final int NIBBLE = 0xf;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final boolean VECTORIZED = F.length() >= 8 && SCALE_GROUP % F.length() == 0;
    private static final VectorSpecies<Byte> B = VECTORIZED
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;

    public Q6_KMatrix(MemorySegment data, int rows, int cols) {
        super(TensorType.Q6_K, data, rows, cols);
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        int blockBytes = TensorType.Q6_K.blockBytes();
        for (int blk = 0; blk < cols / SUPER_BLOCK; blk++) {
            long base = rowOffset + (long) blk * blockBytes;
            float d = Float.float16ToFloat(data.get(F16Matrix.LE_SHORT, base + D_OFFSET));
            for (int half = 0; half < SUPER_BLOCK / HALF; half++) {
                long ql = base + (long) half * QL_HALF_BYTES;
                long qh = base + QH_OFFSET + (long) half * QH_HALF_BYTES;
                long sc = base + SCALES_OFFSET + (long) half * SCALES_PER_HALF;
                int out = dstOff + blk * SUPER_BLOCK + half * HALF;
                if (VECTORIZED) decodeHalfVector(d, ql, qh, sc, dst, out);
                else decodeHalfScalar(d, ql, qh, sc, dst, out);
            }
        }
    }

    private void decodeHalfVector(float d, long ql, long qh, long sc, float[] dst, int out) {
        for (int l = 0; l < QUARTER; l += B.length()) {
            int is = l / SCALE_GROUP; // a vector never straddles two scales: 16 is a multiple of its lanes
            IntVector low0 = bytes(ql + l), low32 = bytes(ql + l + QUARTER), high = bytes(qh + l);
            IntVector q1 = low0.and(NIBBLE).or(high.and(3).lanewise(VectorOperators.LSHL, 4));
            IntVector q2 = low32.and(NIBBLE).or(high.lanewise(VectorOperators.LSHR, 2).and(3).lanewise(VectorOperators.LSHL, 4));
            IntVector q3 = low0.lanewise(VectorOperators.LSHR, 4).and(NIBBLE)
                    .or(high.lanewise(VectorOperators.LSHR, 4).and(3).lanewise(VectorOperators.LSHL, 4));
            IntVector q4 = low32.lanewise(VectorOperators.LSHR, 4).and(NIBBLE)
                    .or(high.lanewise(VectorOperators.LSHR, 6).and(3).lanewise(VectorOperators.LSHL, 4));
            store(q1, d * s8(sc + is), dst, out + l);
            store(q2, d * s8(sc + is + 2), dst, out + l + QUARTER);
            store(q3, d * s8(sc + is + 4), dst, out + l + 2 * QUARTER);
            store(q4, d * s8(sc + is + 6), dst, out + l + 3 * QUARTER);
        }
    }

    /** Lanes of bytes at {@code at}, widened to ints (sign-extended; callers mask). */
    private IntVector bytes(long at) {
        return (IntVector) ByteVector.fromMemorySegment(B, data, at, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0);
    }

    /** dst = scale * (q - 32), rounded as ggml's (d * sc) * q. */
    private static void store(IntVector q, float scale, float[] dst, int at) {
        ((FloatVector) q.sub(ZERO_POINT).convert(VectorOperators.I2F, 0)).mul(scale).intoArray(dst, at);
    }

    private void decodeHalfScalar(float d, long ql, long qh, long sc, float[] dst, int out) {
        for (int l = 0; l < QUARTER; l++) {
            int is = l / SCALE_GROUP;
            int low0 = u8(ql + l), low32 = u8(ql + l + QUARTER), high = u8(qh + l);
            int q1 = ((low0 & NIBBLE) | ((high & 3) << 4)) - ZERO_POINT;
            int q2 = ((low32 & NIBBLE) | (((high >>> 2) & 3) << 4)) - ZERO_POINT;
            int q3 = ((low0 >>> 4) | (((high >>> 4) & 3) << 4)) - ZERO_POINT;
            int q4 = ((low32 >>> 4) | (((high >>> 6) & 3) << 4)) - ZERO_POINT;
            dst[out + l] = d * s8(sc + is) * q1;
            dst[out + l + QUARTER] = d * s8(sc + is + 2) * q2;
            dst[out + l + 2 * QUARTER] = d * s8(sc + is + 4) * q3;
            dst[out + l + 3 * QUARTER] = d * s8(sc + is + 6) * q4;
        }
    }

    private int u8(long at) {
        return data.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    private int s8(long at) {
        return data.get(ValueLayout.JAVA_BYTE, at);
    }
}
