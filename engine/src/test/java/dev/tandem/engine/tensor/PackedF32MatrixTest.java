package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.tandem.engine.tensor.TestMatrices.gaussian;
import static dev.tandem.engine.tensor.TestMatrices.rowMajor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The packed float32 kernel: one summation order for every batch size and row range, and rows read back exactly. */
class PackedF32MatrixTest {

    private static PackedF32Matrix packed(Arena arena, WeightMatrix source) {
        return PackedF32Matrix.pack(source, arena.allocate(PackedF32Matrix.packedBytes(source.rows(), source.cols()), 64));
    }

    /** The order every kernel must follow: one fused multiply-add per column, from column 0 on. */
    private static float ordered(float[] w, int r, int cols, float[] x, int xOff) {
        float acc = 0f;
        for (int c = 0; c < cols; c++) acc = Math.fma(w[r * cols + c], x[xOff + c], acc);
        return acc;
    }

    @Test
    void everyBatchSizeGivesEachRowTheBitsOfTheFixedOrder() {
        SplittableRandom random = new SplittableRandom(11);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : new int[][]{{37, 288}, {13, 100}, {64, 7}, {1, 288}, {130, 33}, {288, 768}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = gaussian(random, rows * cols);
                PackedF32Matrix m = packed(arena, rowMajor(arena, w, rows, cols));
                for (int batch = 1; batch <= 17; batch++) {
                    float[] x = gaussian(random, batch * cols + 3);
                    float[] out = new float[batch * rows + 2];
                    m.matmul(x, 3, cols, batch, out, 2, rows, 0, rows);
                    for (int b = 0; b < batch; b++) {
                        float[] single = new float[rows];
                        m.matmul(x, 3 + b * cols, cols, 1, single, 0, rows, 0, rows);
                        for (int r = 0; r < rows; r++) {
                            String where = rows + "x" + cols + " batch " + batch + " b " + b + " r " + r;
                            float got = out[2 + b * rows + r];
                            assertEquals(Float.floatToIntBits(single[r]), Float.floatToIntBits(got), where);
                            assertEquals(Float.floatToIntBits(ordered(w, r, cols, x, 3 + b * cols)), Float.floatToIntBits(got), where);
                            assertEquals(Float.floatToIntBits(m.rowDot(r, x, 3 + b * cols)), Float.floatToIntBits(got), where + " rowDot");
                            double exact = 0, scale = 0;
                            for (int c = 0; c < cols; c++) {
                                double p = (double) w[r * cols + c] * x[3 + b * cols + c];
                                exact += p;
                                scale += Math.abs(p);
                            }
                            assertEquals(exact, got, 1e-5 * scale + 1e-6, where);
                        }
                    }
                }
            }
        }
    }

    /** Ranges that start or end inside a block (and in a quad's middle) write exactly their rows, with the same bits. */
    @Test
    void rowRangesWriteOnlyTheirRowsWithTheFullRangesBits() {
        SplittableRandom random = new SplittableRandom(12);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 150, cols = 45;
            float[] w = gaussian(random, rows * cols);
            PackedF32Matrix m = packed(arena, rowMajor(arena, w, rows, cols));
            for (int batch : new int[]{1, 2, 3, 4, 5, 9}) {
                float[] x = gaussian(random, batch * cols);
                float[] full = new float[batch * rows];
                m.matmul(x, 0, cols, batch, full, 0, rows, 0, rows);
                for (int[] range : new int[][]{{0, 1}, {3, 17}, {16, 32}, {16, 80}, {17, 149}, {48, 150}, {149, 150}, {5, 6}, {33, 97}}) {
                    float[] out = new float[batch * rows];
                    Arrays.fill(out, Float.NaN);
                    m.matmul(x, 0, cols, batch, out, 0, rows, range[0], range[1]);
                    for (int b = 0; b < batch; b++) {
                        for (int r = 0; r < rows; r++) {
                            int i = b * rows + r;
                            String where = "batch " + batch + " range " + Arrays.toString(range) + " b " + b + " r " + r;
                            if (r >= range[0] && r < range[1]) assertEquals(Float.floatToIntBits(full[i]), Float.floatToIntBits(out[i]), where);
                            else assertEquals(Float.NaN, out[i], where);
                        }
                    }
                }
            }
        }
    }

    @Test
    void rowsReadBackExactlyAndACopyOfTheSegmentIsTheSameMatrix() {
        SplittableRandom random = new SplittableRandom(13);
        try (Arena arena = Arena.ofConfined()) {
            int rows = 50, cols = 288;
            float[] w = gaussian(random, rows * cols);
            PackedF32Matrix m = packed(arena, rowMajor(arena, w, rows, cols));
            assertEquals(TensorType.F32, m.type());
            float[] row = new float[cols + 1];
            for (int r = 0; r < rows; r++) {
                m.readRow(r, row, 1);
                assertArrayEquals(Arrays.copyOfRange(w, r * cols, (r + 1) * cols), Arrays.copyOfRange(row, 1, cols + 1), "row " + r);
            }
            MemorySegment copy = arena.allocate(m.segment().byteSize(), 64);
            copy.copyFrom(m.segment());
            WeightMatrix moved = m.withSegment(copy);
            float[] x = gaussian(random, 3 * cols);
            float[] a = new float[3 * rows];
            float[] b = new float[3 * rows];
            m.matmul(x, 0, cols, 3, a, 0, rows, 0, rows);
            moved.matmul(x, 0, cols, 3, b, 0, rows, 0, rows);
            assertArrayEquals(a, b);
        }
    }

    @Test
    void packingAnArrayWritesTheBytesOfPackingAMatrixOverStaleBuffers() {
        SplittableRandom random = new SplittableRandom(14);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : new int[][]{{1, 3}, {50, 288}, {65, 7}, {2048, 288}}) {
                int rows = shape[0], cols = shape[1];
                float[] w = gaussian(random, rows * cols);
                MemorySegment expected = packed(arena, rowMajor(arena, w, rows, cols)).segment();
                float[] buffer = gaussian(random, (int) (PackedF32Matrix.packedBytes(rows, cols) / Float.BYTES) + 5); // stale data
                PackedF32Matrix m = PackedF32Matrix.pack(w, rows, cols, buffer);
                assertEquals(rows, m.rows());
                assertEquals(-1L, expected.mismatch(m.segment()), rows + "x" + cols);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> PackedF32Matrix.pack(new float[6], 2, 3, new float[3]));
        }
    }

    @Test
    void rejectsASegmentOfTheWrongSizeAndNonFloatSources() {
        try (Arena arena = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class, () -> new PackedF32Matrix(arena.allocate(100), 3, 5));
            float[] w = new float[32 * 32];
            MemorySegment seg = arena.allocate(TensorType.F16.bytesFor(w.length));
            WeightMatrix f16 = WeightMatrices.of(TensorType.F16, seg, 32, 32);
            assertThrows(IllegalArgumentException.class,
                    () -> PackedF32Matrix.pack(f16, arena.allocate(PackedF32Matrix.packedBytes(32, 32))));
        }
    }
}
