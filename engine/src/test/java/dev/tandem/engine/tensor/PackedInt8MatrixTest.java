package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;

import static dev.tandem.engine.tensor.TestMatrices.gaussian;
import static dev.tandem.engine.tensor.TestMatrices.rowMajor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The int8 copy's products: each batch row gets the same bits whatever the batch and quad range around it (every
 * kernel shape, one to many rows per pass), within the proven bound of the exact product, and each row's floor is
 * the largest lower bound of its real rows.
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
}
