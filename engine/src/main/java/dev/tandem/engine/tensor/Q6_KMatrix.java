package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * ggml's Q6_K matrix. A 210-byte super-block holds 256 values: 128 bytes of low 4 bits (ql),
 * 64 bytes of high 2 bits (qh), 16 int8 scales (one per 16 values), then f16 d. A value is
 * {@code d * scale * (q - 32)} with the 6-bit q assembled as ggml's dequantize_row_q6_K does,
 * in two halves of 128 values.
 */
public final class Q6_KMatrix extends DequantizingMatrix {

    private static final int SUPER_BLOCK = 256;
    private static final int HALF = 128;
    private static final int QUARTER = 32;
    private static final int QH_OFFSET = 128;
    private static final int SCALES_OFFSET = 192;
    private static final int D_OFFSET = 208;
    private static final int ZERO_POINT = 32;

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
                long ql = base + half * 64L;
                long qh = base + QH_OFFSET + half * 32L;
                long sc = base + SCALES_OFFSET + half * 8L;
                int out = dstOff + blk * SUPER_BLOCK + half * HALF;
                for (int l = 0; l < QUARTER; l++) {
                    int is = l / 16;
                    int low0 = u8(ql + l), low32 = u8(ql + l + 32), high = u8(qh + l);
                    int q1 = ((low0 & 0xf) | ((high & 3) << 4)) - ZERO_POINT;
                    int q2 = ((low32 & 0xf) | (((high >>> 2) & 3) << 4)) - ZERO_POINT;
                    int q3 = ((low0 >>> 4) | (((high >>> 4) & 3) << 4)) - ZERO_POINT;
                    int q4 = ((low32 >>> 4) | (((high >>> 6) & 3) << 4)) - ZERO_POINT;
                    dst[out + l] = d * s8(sc + is) * q1;
                    dst[out + l + QUARTER] = d * s8(sc + is + 2) * q2;
                    dst[out + l + 2 * QUARTER] = d * s8(sc + is + 4) * q3;
                    dst[out + l + 3 * QUARTER] = d * s8(sc + is + 6) * q4;
                }
            }
        }
    }

    private int u8(long at) {
        return data.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    private int s8(long at) {
        return data.get(ValueLayout.JAVA_BYTE, at);
    }
}
