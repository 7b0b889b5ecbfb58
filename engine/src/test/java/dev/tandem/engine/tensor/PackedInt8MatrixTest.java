package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;

import static dev.tandem.engine.tensor.TestMatrices.gaussian;
import static dev.tandem.engine.tensor.TestMatrices.rowMajor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The int8 copy's products: each batch row gets the same bits whatever the batch and quad range around it (every
 * kernel shape, one to many rows per pass), within the proven bound of the exact product, and each row's floor is
 * the largest lower bound of its real rows. As a {@link WeightMatrix}, any row range (as threads split one) and
 * output stride gives exactly those bits and leaves the rest of the output alone.
 */
class PackedInt8MatrixTest {

    @Test
    void everyBatchSizeGivesEachRowTheBitsOfOneRowWithinTheBound() {
        SplittableRandom random = new SplittableRandom(21);
        try (Arena arena = Arena.ofConfined()) {
            // Not whole quads, so the last quad holds padding rows.
            for (int[] shape : new int[][]{{200, 96}, {70, 33}, {129, 288}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = gaussian(random, rows * cols);
                PackedInt8Matrix m = PackedInt8Matrix.quantize(rowMajor(arena, w, rows, cols));
                int width = m.paddedRows();
                for (int batch = 1; batch <= 17; batch++) {
                    float[] x = gaussian(random, batch * cols + 5);
                    float[] radius = new float[batch];
                    for (int b = 0; b < batch; b++) {
                        double sum = 0;
                        for (int c = 0; c < cols; c++) sum += Math.abs(x[5 + b * cols + c]);
                        radius[b] = (float) (m.boundFactor() * sum);
                    }
                    float[] out = new float[batch * width];
                    m.approximate(x, 5, cols, batch, out, 0, width, 0, m.quads());
                    for (int b = 0; b < batch; b++) {
                        float[] single = new float[width];
                        // The same row alone, quad by quad: neither the batch nor the range changes its bits.
                        for (int q = 0; q < m.quads(); q++) {
                            m.approximate(x, 5 + b * cols, cols, 1, single, 0, width, q, q + 1);
                        }
                        float best = Float.NEGATIVE_INFINITY;
                        for (int r = 0; r < rows; r++) {
                            String where = rows + "x" + cols + " batch " + batch + " b " + b + " r " + r;
                            float got = out[b * width + r];
                            assertEquals(Float.floatToIntBits(single[r]), Float.floatToIntBits(got), where);
                            double exact = 0;
                            for (int c = 0; c < cols; c++) exact += (double) w[r * cols + c] * x[5 + b * cols + c];
                            assertTrue(Math.abs(exact - got) <= radius[b] * m.scale(r), where + ": " + got + " vs " + exact);
                            best = Math.max(best, Math.fma(m.scale(r), -radius[b], got));
                        }
                        // The floor covers real rows only: a padding row's 0 would raise it.
                        assertEquals(best, m.floor(out, b * width, radius[b]), 0f, "floor of batch row " + b);
                    }
                }
            }
        }
    }

    @Test
    void asAWeightMatrixAnyRowRangeWritesTheApproximationsAndNothingElse() {
        SplittableRandom random = new SplittableRandom(5);
        try (Arena arena = Arena.ofConfined()) {
            // 288 rows: the draft's square matrices (padding in the last quad); 128: whole quads, written in place.
            for (int[] shape : new int[][]{{288, 40}, {128, 24}, {70, 33}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = gaussian(random, rows * cols);
                PackedInt8Matrix m = PackedInt8Matrix.quantize(rowMajor(arena, w, rows, cols));
                assertEquals(TensorType.INT8_ROWS, m.type());
                int width = m.paddedRows();
                for (int batch : new int[]{1, 3, 8, 16}) {
                    float[] x = gaussian(random, batch * cols + 3);
                    float[] expected = new float[batch * width];
                    m.approximate(x, 3, cols, batch, expected, 0, width, 0, m.quads());
                    int stride = rows + 7;
                    for (int[] range : new int[][]{{0, rows}, {0, 64}, {64, rows}, {10, Math.min(77, rows)}, {rows / 2, rows}, {rows - 1, rows}}) {
                        float[] out = new float[2 + batch * stride];
                        java.util.Arrays.fill(out, -99f);
                        m.matmul(x, 3, cols, batch, out, 2, stride, range[0], range[1]);
                        for (int b = 0; b < batch; b++) {
                            for (int r = 0; r < stride; r++) {
                                float got = out[2 + b * stride + r];
                                boolean inRange = r >= range[0] && r < range[1];
                                String where = rows + "x" + cols + " batch " + batch + " range " + range[0] + "-" + range[1] + " b " + b + " r " + r;
                                if (inRange) assertEquals(Float.floatToIntBits(expected[b * width + r]), Float.floatToIntBits(got), where);
                                else assertEquals(-99f, got, where);
                            }
                        }
                        assertEquals(-99f, out[0]);
                        assertEquals(-99f, out[1]);
                    }
                }
                // readRow gives the copy's values: its own product with a unit vector.
                float[] row = new float[cols];
                float[] unit = new float[cols];
                float[] col = new float[rows];
                for (int c = 0; c < cols; c += 7) {
                    java.util.Arrays.fill(unit, 0f);
                    unit[c] = 1f;
                    m.matmul(unit, 0, cols, 1, col, 0, rows, 0, rows);
                    for (int r = 0; r < rows; r += 5) {
                        m.readRow(r, row, 0);
                        assertEquals(col[r], row[c], 0f, "row " + r + " col " + c);
                        assertTrue(Math.abs(row[c] - w[r * cols + c]) <= m.scale(r) / 2 * 1.0001f, "row " + r + " col " + c);
                    }
                }
                // The same matrix over a copy of its bytes.
                var copy = PackedInt8Matrix.allocate(m.segment().byteSize()).asSlice(0, m.segment().byteSize());
                copy.copyFrom(m.segment());
                WeightMatrix moved = m.withSegment(copy);
                float[] x = gaussian(random, cols);
                float[] a = new float[rows];
                float[] b = new float[rows];
                m.matmul(x, 0, cols, 1, a, 0, rows, 0, rows);
                moved.matmul(x, 0, cols, 1, b, 0, rows, 0, rows);
                assertArrayEquals(a, b);
                assertThrows(IllegalArgumentException.class, () -> m.withSegment(copy.asSlice(0, copy.byteSize() - 64)));
            }
        }
    }
}
