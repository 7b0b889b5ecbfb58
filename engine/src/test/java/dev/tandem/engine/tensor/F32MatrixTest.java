package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class F32MatrixTest {

    private static F32Matrix matrix(Arena arena, int rows, int cols, SplittableRandom random) {
        MemorySegment seg = arena.allocate((long) rows * cols * Float.BYTES);
        for (long i = 0; i < (long) rows * cols; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) random.nextGaussian());
        return new F32Matrix(seg, rows, cols);
    }

    /** Every kernel (single row, 1x4, 4x4) must give each (row, batch row) the same bits, and match a plain dot. */
    @Test
    void batchedProductsEqualSingleRowProductsBitForBit() {
        SplittableRandom random = new SplittableRandom(1);
        try (Arena arena = Arena.ofConfined()) {
            for (int cols : new int[]{288, 64, 100}) {
                int rows = 37;
                F32Matrix m = matrix(arena, rows, cols, random);
                for (int batch : new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 20, 24}) {
                    float[] x = new float[batch * cols + 3];
                    for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
                    float[] out = new float[batch * rows + 2];
                    m.matmul(x, 3, cols, batch, out, 2, rows, 0, rows);
                    for (int b = 0; b < batch; b++) {
                        float[] single = new float[rows];
                        m.matmul(x, 3 + b * cols, cols, 1, single, 0, rows, 0, rows);
                        for (int r = 0; r < rows; r++) {
                            assertEquals(Float.floatToIntBits(single[r]), Float.floatToIntBits(out[2 + b * rows + r]),
                                    "cols " + cols + " batch " + batch + " b " + b + " r " + r);
                            double expected = 0;
                            for (int i = 0; i < cols; i++) {
                                expected += (double) m.segment().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) r * cols + i) * x[3 + b * cols + i];
                            }
                            assertEquals(expected, single[r], 1e-3);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aRowRangeWritesOnlyItsRows() {
        try (Arena arena = Arena.ofConfined()) {
            F32Matrix m = matrix(arena, 40, 32, new SplittableRandom(2));
            float[] x = new float[2 * 32];
            java.util.Arrays.fill(x, 1f);
            float[] out = new float[2 * 40];
            java.util.Arrays.fill(out, Float.NaN);
            m.matmul(x, 0, 32, 2, out, 0, 40, 8, 24);
            for (int b = 0; b < 2; b++) {
                for (int r = 0; r < 40; r++) assertEquals(r >= 8 && r < 24, !Float.isNaN(out[b * 40 + r]), "b " + b + " r " + r);
            }
        }
    }
}
