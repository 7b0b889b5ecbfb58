package dev.tandem.engine.tensor;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * Float rows to the bytes of a storage type, exactly as ggml's reference quantizers
 * (quantize_row_q8_0_ref, quantize_row_q4_0_ref) and its F16/BF16 conversions (round to nearest even).
 * Used to write GGUF files; the kernels never quantize weights.
 */
public final class Quantizer {

    /** The types Tandem can write. */
    public static final Set<TensorType> WRITABLE = Collections.unmodifiableSet(EnumSet.of(TensorType.F32,
            TensorType.F16, TensorType.BF16, TensorType.Q8_0, TensorType.Q4_0));

    private static final int BLOCK = 32;
    private static final int HALF_BLOCK = 16;
    private static final float Q8_MAX = 127f;
    private static final float Q4_MIN = -8f;
    private static final float Q4_OFFSET = 8.5f;
    private static final int Q4_MAX_NIBBLE = 15;
    private static final int BF16_QUIET_NAN_BIT = 0x40;

    private Quantizer() {}

    /**
     * Quantizes {@code count} values of {@code src} from {@code srcOff} into {@code dst} at {@code dstOff}
     * and returns the number of bytes written, {@code type.bytesFor(count)}.
     */
    public static int quantize(TensorType type, float[] src, int srcOff, int count, byte[] dst, int dstOff) {
        int bytes = Math.toIntExact(type.bytesFor(count));
        switch (type) {
            case F32 -> {
                for (int i = 0; i < count; i++) putInt(dst, dstOff + 4 * i, Float.floatToRawIntBits(src[srcOff + i]));
            }
            case F16 -> {
                for (int i = 0; i < count; i++) putShort(dst, dstOff + 2 * i, Float.floatToFloat16(src[srcOff + i]));
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) putShort(dst, dstOff + 2 * i, toBf16(src[srcOff + i]));
            }
            case Q8_0 -> {
                for (int k = 0; k < count / BLOCK; k++) q8_0Block(src, srcOff + k * BLOCK, dst, dstOff + k * type.blockBytes());
            }
            case Q4_0 -> {
                for (int k = 0; k < count / BLOCK; k++) q4_0Block(src, srcOff + k * BLOCK, dst, dstOff + k * type.blockBytes());
            }
            default -> throw new IllegalArgumentException("Tandem cannot write " + type + " (it writes " + WRITABLE + ")");
        }
        return bytes;
    }

    /** ggml's GGML_FP32_TO_BF16: round to nearest even, NaNs kept quiet. */
    public static short toBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | BF16_QUIET_NAN_BIT);
        return (short) ((bits + (0x7fff + ((bits >>> 16) & 1))) >>> 16);
    }

    private static void q8_0Block(float[] x, int off, byte[] dst, int at) {
        float amax = 0f;
        for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[off + j]));
        float d = amax / Q8_MAX;
        float id = d != 0f ? 1f / d : 0f;
        putShort(dst, at, Float.floatToFloat16(d));
        for (int j = 0; j < BLOCK; j++) dst[at + 2 + j] = (byte) roundHalfAway(x[off + j] * id);
    }

    private static void q4_0Block(float[] x, int off, byte[] dst, int at) {
        float amax = 0f;
        float max = 0f;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / Q4_MIN;
        float id = d != 0f ? 1f / d : 0f;
        putShort(dst, at, Float.floatToFloat16(d));
        for (int j = 0; j < HALF_BLOCK; j++) {
            int low = Math.min(Q4_MAX_NIBBLE, (byte) (int) (x[off + j] * id + Q4_OFFSET));
            int high = Math.min(Q4_MAX_NIBBLE, (byte) (int) (x[off + HALF_BLOCK + j] * id + Q4_OFFSET));
            dst[at + 2 + j] = (byte) (low | high << 4);
        }
    }

    /** C's roundf: halves go away from zero (Math.round would send -2.5 to -2); double keeps v + 0.5 exact. */
    private static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    private static void putShort(byte[] dst, int at, short v) {
        dst[at] = (byte) v;
        dst[at + 1] = (byte) (v >>> 8);
    }

    private static void putInt(byte[] dst, int at, int v) {
        dst[at] = (byte) v;
        dst[at + 1] = (byte) (v >>> 8);
        dst[at + 2] = (byte) (v >>> 16);
        dst[at + 3] = (byte) (v >>> 24);
    }
}
