package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static dev.tandem.engine.tensor.GgmlReferenceTest.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every matrix type: quantization error bounds, and matmul against dot products with the decoded rows. */
class WeightMatrixKernelTest {

    private static final int ROWS = 13;
    private static final int COLS = 288; // stories15M's width: 9 blocks of 32, not a multiple of a vector
    private static final int K_COLS = 512; // K-quants need multiples of 256

    private final Random random = new Random(7);

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void quantizationErrorIsBounded(TensorType type) {
        float[] w = gaussian(ROWS * COLS);
        WeightMatrix m = quantized(type, w, ROWS, COLS);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            m.readRow(r, row, 0);
            for (int k = 0; k < COLS / 32; k++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(w[r * COLS + k * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int c = k * 32 + j;
                    float original = w[r * COLS + c];
                    float bound = switch (type) {
                        case F32 -> 0f;
                        case F16 -> Math.abs(original) * 0x1p-11f + 0x1p-24f;
                        case BF16 -> Math.abs(original) * 0x1p-8f;
                        case Q8_0 -> amax / 127f * 0.5f * 1.002f + amax * 0x1p-11f;  // half a step, plus the f16 scale
                        case Q4_0 -> amax / 8f * 1.002f; // a full step where +amax clamps to nibble 15
                        default -> throw new AssertionError(type);
                    };
                    assertEquals(original, row[c], bound, type + " row " + r + " col " + c);
                }
            }
        }
    }

    /** Batched, strided, row-ranged matmul equals float dot products with the decoded rows. */
    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void floatKernelsMatchDecodedDot(TensorType type) {
        int cols = type.blockSize() == 256 ? K_COLS : COLS;
        WeightMatrix m = type.blockSize() == 256 ? randomKQuant(type, ROWS, cols) : quantized(type, gaussian(ROWS * cols), ROWS, cols);
        checkMatmul(m, (decodedRow, x, xOff) -> dot(decodedRow, x, xOff), 1e-5);
    }

    /** The int8 kernels equal an exact reference that quantizes the activations the same way. */
    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"Q8_0", "Q4_0"})
    void int8KernelsMatchQuantizedActivationReference(TensorType type) {
        WeightMatrix m = quantized(type, gaussian(ROWS * COLS), ROWS, COLS, QuantKernel.INT8_DOT);
        checkMatmul(m, WeightMatrixKernelTest::int8Reference, 1e-5);
    }

    /** And they stay close to the float product: activation quantization costs well under 1%. */
    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"Q8_0", "Q4_0"})
    void int8KernelsStayCloseToFloatDot(TensorType type) {
        WeightMatrix m = quantized(type, gaussian(ROWS * COLS), ROWS, COLS, QuantKernel.INT8_DOT);
        float[] x = gaussian(COLS);
        float[] out = new float[ROWS];
        m.matmul(x, 0, COLS, 1, out, 0, ROWS, 0, ROWS);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            m.readRow(r, row, 0);
            double exact = 0, magnitude = 0;
            for (int c = 0; c < COLS; c++) {
                exact += (double) row[c] * x[c];
                magnitude += Math.abs((double) row[c] * x[c]);
            }
            assertEquals(exact, out[r], magnitude * 0.01, type + " row " + r);
        }
    }

    /** A row's result must not depend on the rest of the batch (speculative verification relies on it). */
    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void resultsDoNotDependOnTheBatch(TensorType type) {
        WeightMatrix m = quantized(type, gaussian(ROWS * COLS), ROWS, COLS);
        // 7: one wide block (F32) or a block of four and three rows; 14 and 23: the compute-bound groups
        // (8 + 4 + 2 rows, 8 + 8 + 4 + 3 rows) over an odd number of weight rows.
        for (int batch : new int[]{7, 14, 23}) {
            float[] x = gaussian(batch * COLS);
            float[] batched = new float[batch * ROWS];
            m.matmul(x, 0, COLS, batch, batched, 0, ROWS, 0, ROWS);
            for (int b = 0; b < batch; b++) {
                float[] single = new float[ROWS];
                m.matmul(x, b * COLS, COLS, 1, single, 0, ROWS, 0, 5);
                m.matmul(x, b * COLS, COLS, 1, single, 0, ROWS, 5, ROWS);
                assertArrayEquals(Arrays.copyOfRange(batched, b * ROWS, (b + 1) * ROWS), single,
                        type + " batch " + batch + " row " + b);
            }
        }
    }

    @Test
    void zeroActivationsGiveZero() {
        WeightMatrix m = quantized(TensorType.Q8_0, gaussian(ROWS * COLS), ROWS, COLS, QuantKernel.INT8_DOT);
        float[] out = new float[ROWS];
        Arrays.fill(out, 1f);
        m.matmul(new float[COLS], 0, COLS, 1, out, 0, ROWS, 0, ROWS);
        for (float v : out) assertEquals(0f, v);
    }

    @Test
    void rejectsSegmentOfWrongSize() {
        byte[] bytes = new byte[(int) TensorType.Q8_0.bytesFor(COLS) * ROWS - 1];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WeightMatrices.of(TensorType.Q8_0, segment(bytes), ROWS, COLS));
        assertTrue(e.getMessage().contains("Q8_0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> WeightMatrices.of(TensorType.Q4_0, segment(new byte[18]), 1, 31));
    }

    interface Reference {
        double dot(float[] decodedRow, float[] x, int xOff);
    }

    private void checkMatmul(WeightMatrix m, Reference reference, double relTolerance) {
        int batch = 6, cols = m.cols(), xOff = 5, xStride = cols + 7, outOff = 2, outStride = m.rows() + 3;
        float[] x = gaussian(xOff + batch * xStride);
        float[] out = new float[outOff + batch * outStride];
        Arrays.fill(out, Float.NaN);
        int rowStart = 2, rowEnd = m.rows() - 1;
        m.matmul(x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
        float[] row = new float[cols];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < m.rows(); r++) {
                float got = out[outOff + b * outStride + r];
                if (r < rowStart || r >= rowEnd) {
                    assertTrue(Float.isNaN(got), "row " + r + " outside the range was written");
                    continue;
                }
                m.readRow(r, row, 0);
                double expected = reference.dot(row, x, xOff + b * xStride);
                double magnitude = 0;
                for (int c = 0; c < cols; c++) magnitude += Math.abs(row[c] * x[xOff + b * xStride + c]);
                assertEquals(expected, got, magnitude * relTolerance + 1e-6, m.type() + " batch " + b + " row " + r);
            }
        }
    }

    private static double dot(float[] row, float[] x, int xOff) {
        double s = 0;
        for (int c = 0; c < row.length; c++) s += (double) row[c] * x[xOff + c];
        return s;
    }

    /** The decoded weight times the activation as the int8 kernels see it: d * round(x * 127 / amax). */
    private static double int8Reference(float[] row, float[] x, int xOff) {
        double s = 0;
        for (int k = 0; k < row.length / 32; k++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xOff + k * 32 + j]));
            float inverse = amax == 0 ? 0 : 127f / amax;
            for (int j = 0; j < 32; j++) {
                int c = k * 32 + j;
                s += (double) row[c] * Math.round(x[xOff + c] * inverse) * (amax / 127f);
            }
        }
        return s;
    }

    private WeightMatrix quantized(TensorType type, float[] w, int rows, int cols) {
        return quantized(type, w, rows, cols, QuantKernel.DECODE_ROW);
    }

    private WeightMatrix quantized(TensorType type, float[] w, int rows, int cols, QuantKernel kernel) {
        byte[] bytes = new byte[(int) type.bytesFor((long) rows * cols)];
        for (int r = 0; r < rows; r++) {
            Quantizer.quantize(type, w, r * cols, cols, bytes, (int) (r * type.bytesFor(cols)));
        }
        return WeightMatrices.of(type, segment(bytes), rows, cols, kernel);
    }

    /** Random K-quant super-blocks with small, finite f16 scales. */
    private WeightMatrix randomKQuant(TensorType type, int rows, int cols) {
        byte[] bytes = new byte[(int) type.bytesFor((long) rows * cols)];
        random.nextBytes(bytes);
        int[] scaleOffsets = type == TensorType.Q4_K ? new int[]{0, 2} : new int[]{208};
        for (int blk = 0; blk < bytes.length / type.blockBytes(); blk++) {
            for (int off : scaleOffsets) {
                short d = Float.floatToFloat16(0.001f + random.nextFloat() * 0.05f);
                bytes[blk * type.blockBytes() + off] = (byte) d;
                bytes[blk * type.blockBytes() + off + 1] = (byte) (d >> 8);
            }
        }
        return WeightMatrices.of(type, segment(bytes), rows, cols);
    }

    private float[] gaussian(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian() * (i % 64 < 32 ? 1f : 0.05f);
        return v;
    }
}
