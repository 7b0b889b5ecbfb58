package dev.tandem.engine.tensor;

/**
 * Activation rows quantized like ggml's Q8_0 (blocks of 32 int8 values sharing one scale), so that
 * the Q8_0 and Q4_0 kernels can multiply integer by integer, as ggml's vec_dot_q8_0_q8_0 does.
 * Unlike the file format the scales stay float32: they are free to keep and lose nothing.
 * Buffers grow on demand and are reused, one instance per thread (see {@link KernelScratch}).
 */
final class Q8Activations {

    static final int BLOCK = 32;
    private static final float INT8_MAX = 127f;

    /** Quantized values of batch row b start at {@code b * cols}. */
    byte[] values = new byte[0];
    /** Scale of block k of batch row b is at {@code b * (cols / BLOCK) + k}. */
    float[] scales = new float[0];

    /** Quantizes {@code batch} rows of {@code cols} values ({@code cols} a multiple of 32). */
    void quantize(float[] x, int xOff, int xStride, int batch, int cols) {
        int blocks = cols / BLOCK;
        if (values.length < batch * cols) values = new byte[batch * cols];
        if (scales.length < batch * blocks) scales = new float[batch * blocks];
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < blocks; k++) {
                int src = xOff + b * xStride + k * BLOCK;
                int dst = b * cols + k * BLOCK;
                float amax = 0f;
                for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[src + j]));
                float inverse = amax == 0f ? 0f : INT8_MAX / amax;
                scales[b * blocks + k] = amax / INT8_MAX;
                for (int j = 0; j < BLOCK; j++) values[dst + j] = (byte) Math.round(x[src + j] * inverse);
            }
        }
    }
}
