package dev.tandem.engine.llama;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.PackedF32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The int8 screen of the output head gives exactly the float32 argmax, near ties and exact ties included. */
class GreedyHeadTest {

    /** Not a multiple of a quad (64 rows), so the last quad has padding rows. */
    private static final int ROWS = 4100;
    private static final int COLS = 96;

    private static F32Matrix rowMajor(Arena arena, float[] w) {
        MemorySegment seg = arena.allocate((long) w.length * Float.BYTES);
        MemorySegment.copy(w, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, w.length);
        return new F32Matrix(seg, ROWS, COLS);
    }

    private static PackedF32Matrix packed(Arena arena, WeightMatrix source) {
        return PackedF32Matrix.pack(source, arena.allocate(PackedF32Matrix.packedBytes(ROWS, COLS), 64));
    }

    /** The argmax of the head's own full product of each row. */
    private static int[] fullArgmax(WeightMatrix head, float[] x, int count) {
        float[] logits = new float[count * ROWS];
        head.matmul(x, 0, COLS, count, logits, 0, ROWS, 0, ROWS);
        int[] tokens = new int[count];
        for (int b = 0; b < count; b++) tokens[b] = GreedySampler.argmax(logits, b * ROWS, ROWS);
        return tokens;
    }

    private static void assertScreenAgrees(WeightMatrix head, float[] x, int count, ParallelRunner runner, String what) {
        GreedyHead screen = GreedyHead.forHead(head);
        screen.run(runner, x, 0, count);
        int[] expected = fullArgmax(head, x, count);
        for (int b = 0; b < count; b++) {
            assertTrue(screen.token(b) >= 0, what + ": row " + b + " not settled (" + screen.candidates(b) + " candidates)");
            assertEquals(expected[b], screen.token(b), what + ": row " + b);
        }
    }

    /**
     * Rows built to sit within rounding of each other: copies of one row with one value nudged by an ulp, exact
     * copies (ties go to the lowest id), copies in the first and the padded last quad, and rivals a fraction of an
     * int8 step away, whose order the int8 copy often gets wrong.
     */
    @Test
    void nearAndExactTiesGiveTheFloat32Argmax() {
        SplittableRandom random = new SplittableRandom(7);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2)) {
            for (int trial = 0; trial < 20; trial++) {
                float[] w = gaussian(random, ROWS * COLS, 0.1f);
                float[] x = gaussian(random, 3 * COLS, 1f);
                // A row aligned with x's first row, so it wins, then its near and exact copies elsewhere.
                int top = random.nextInt(ROWS);
                for (int c = 0; c < COLS; c++) w[top * COLS + c] = x[c] * 0.3f;
                int[] copies = {3, 1000 + trial, ROWS - 1, ROWS - 2};
                for (int i = 0; i < copies.length; i++) {
                    int r = copies[i];
                    System.arraycopy(w, top * COLS, w, r * COLS, COLS);
                    int c = random.nextInt(COLS);
                    if (i % 2 == 0) w[r * COLS + c] = Math.nextAfter(w[r * COLS + c], trial % 2 == 0 ? 1 : -1);
                }
                // Rivals within a quantization step of the top row: rounding to int8 reorders them often.
                float step = 0;
                for (int c = 0; c < COLS; c++) step = Math.max(step, Math.abs(w[top * COLS + c]) / 127);
                for (int i = 0; i < 40; i++) {
                    int r = random.nextInt(ROWS);
                    if (r == top) continue;
                    for (int c = 0; c < COLS; c++) w[r * COLS + c] = w[top * COLS + c] + (float) (random.nextGaussian() * step * 0.3);
                }
                F32Matrix rows = rowMajor(arena, w);
                for (int count = 1; count <= 3; count++) {
                    assertScreenAgrees(rows, x, count, runner, "row-major, trial " + trial);
                    assertScreenAgrees(packed(arena, rows), x, count, runner, "packed, trial " + trial);
                }
            }
        }
    }

    /** n values drawn from a standard normal, each times {@code scale}. */
    private static float[] gaussian(SplittableRandom random, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian() * scale;
        return v;
    }

    /** The k highest of a row, highest first, ties to the lower id. */
    private static int[] top(float[] logits, int off, int n, int k) {
        return java.util.stream.IntStream.range(0, n).boxed()
                .sorted((a, b) -> logits[off + a] != logits[off + b] ? Float.compare(logits[off + b], logits[off + a]) : Integer.compare(a, b))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    private static double logSumExp(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(logits[off + i] - max);
        return max + Math.log(sum);
    }

    /**
     * A top-k row: its k highest logits, their ids and order are the full row's bit for bit, and its normalizer is
     * within the bound; on the rows with near ties and rivals, and for k = 1, 5 and 32.
     */
    @Test
    void topLogitsRowsHoldTheExactTopK() {
        SplittableRandom random = new SplittableRandom(17);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2)) {
            for (int trial = 0; trial < 10; trial++) {
                float[] w = gaussian(random, ROWS * COLS, 0.1f);
                float[] x = gaussian(random, 3 * COLS, 1f);
                int topRow = random.nextInt(ROWS);
                for (int c = 0; c < COLS; c++) w[topRow * COLS + c] = x[c] * 0.2f;
                for (int i = 0; i < 40; i++) { // rivals around the top, and a tie
                    int r = random.nextInt(ROWS);
                    for (int c = 0; c < COLS; c++) w[r * COLS + c] = w[topRow * COLS + c] * (0.9f + 0.1f * (float) random.nextDouble());
                }
                System.arraycopy(w, topRow * COLS, w, (ROWS - 1) * COLS, COLS);
                WeightMatrix head = packed(arena, rowMajor(arena, w));
                float[] full = new float[3 * ROWS];
                head.matmul(x, 0, COLS, 3, full, 0, ROWS, 0, ROWS);
                int[] ks = {1, 5, 32};
                GreedyHead screen = GreedyHead.forHead(head);
                screen.run(runner, x, 0, 3, ks);
                float[] row = new float[ROWS];
                for (int b = 0; b < 3; b++) {
                    String where = "trial " + trial + " row " + b + " k " + ks[b];
                    assertTrue(screen.token(b) >= 0, where + " not settled (" + screen.candidates(b) + " candidates)");
                    screen.writeLogits(b, row, 0);
                    int[] expected = top(full, b * ROWS, ROWS, ks[b]);
                    int[] got = top(row, 0, ROWS, ks[b]);
                    assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(got), where);
                    for (int id : expected) assertEquals(Float.floatToIntBits(full[b * ROWS + id]), Float.floatToIntBits(row[id]), where + " id " + id);
                    assertEquals(expected[0], screen.token(b), where);
                    float absSum = 0;
                    for (int c = 0; c < COLS; c++) absSum += Math.abs(x[b * COLS + c]);
                    float maxScale = 0;
                    for (int r = 0; r < ROWS; r++) maxScale = Math.max(maxScale, screen.screen().scale(r));
                    double bound = screen.screen().boundFactor() * maxScale * absSum;
                    double error = Math.abs(logSumExp(row, 0, ROWS) - logSumExp(full, b * ROWS, ROWS));
                    assertTrue(error <= bound, where + ": normalizer off by " + error + ", bound " + bound);
                }
            }
        }
    }

    /** Every logit negative: the padding rows of the last quad (logit 0) must not raise the floor. */
    @Test
    void allNegativeLogits() {
        SplittableRandom random = new SplittableRandom(11);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(2)) {
            float[] w = new float[ROWS * COLS];
            for (int i = 0; i < w.length; i++) w[i] = -(float) Math.abs(random.nextGaussian()) - 0.01f;
            float[] x = new float[2 * COLS];
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.abs(random.nextGaussian()) + 0.01f;
            assertScreenAgrees(packed(arena, rowMajor(arena, w)), x, 2, runner, "all negative");
        }
    }

    /** A row that is not finite is left to the full product. */
    @Test
    void nonFiniteRowsAreNotSettled() {
        SplittableRandom random = new SplittableRandom(13);
        try (Arena arena = Arena.ofShared(); ParallelRunner runner = new ParallelRunner(1)) {
            float[] w = gaussian(random, ROWS * COLS, 1f);
            float[] x = gaussian(random, 2 * COLS, 1f);
            x[COLS + 5] = Float.NaN;
            GreedyHead screen = GreedyHead.forHead(rowMajor(arena, w));
            screen.run(runner, x, 0, 2);
            assertEquals(fullArgmax(rowMajor(arena, w), x, 1)[0], screen.token(0));
            assertEquals(-1, screen.token(1));
        }
    }

    /**
     * On stories15M's packed head: a decode of 100 tokens where each step's greedy token is taken through the
     * screen and checked against the argmax of the same step's full logits, single rows and runs of 5, and the
     * last two of each run again as top-k rows, whose top 32 must be the full rows' bit for bit.
     */
    @Test
    void stageGreedyTokensEqualFullLogitsArgmax() throws InterruptedException {
        try (LoadedModel model = Stories15M.load().placed(WeightsMemory.HUGE_PAGES); ParallelRunner runner = new ParallelRunner(2)) {
            int layers = model.config().nLayers();
            LlamaStage stage = new LlamaStage(model.weights(), 0, layers, runner, 8);
            stage.useGreedyScreen(true);
            // Until its kernels are compiled a stage takes the full product; here the screen itself is under test.
            assertTrue(GreedyHead.awaitWarm(Duration.ofSeconds(60)), "the screen's kernels warm up");
            ForwardBatch batch = new ForwardBatch(model.config().dim(), 8);
            int[] history = new int[120];
            System.arraycopy(Stories15M.ONCE_UPON_A_TIME, 0, history, 0, Stories15M.ONCE_UPON_A_TIME.length);
            int length = Stories15M.ONCE_UPON_A_TIME.length;
            int settled = 0;
            int screenedRows = 0;
            int topSettled = 0;
            while (length < 105) {
                // Five rows of the sequence so far (the last five positions), each with its greedy token.
                int from = length - 5;
                int[] expected = new int[5];
                batch.clear();
                for (int i = 0; i < 5; i++) batch.addToken(1, from + i, history[from + i], RowOutput.LOGITS);
                StageOutput full = stage.forward(batch);
                for (int i = 0; i < 5; i++) expected[i] = GreedySampler.argmax(full.logits(), full.logitsOffset(i), full.vocabSize());
                int vocab = full.vocabSize();
                String[] expectedTop = new String[5];
                for (int i = 0; i < 5; i++) {
                    int[] ids = top(full.logits(), full.logitsOffset(i), vocab, LlamaStage.DEFAULT_SCREEN_TOP_K);
                    StringBuilder b = new StringBuilder();
                    for (int id : ids) b.append(id).append('=').append(Float.floatToIntBits(full.logits()[full.logitsOffset(i) + id])).append(' ');
                    expectedTop[i] = b.toString();
                }
                // The last two as top-k rows (a stage screens at most GreedyHead.MAX_TOP_ROWS of them).
                batch.clear();
                for (int i = 3; i < 5; i++) batch.addToken(1, from + i, history[from + i], RowOutput.TOP_LOGITS);
                StageOutput topRows = stage.forward(batch);
                for (int i = 3; i < 5; i++) {
                    assertEquals(expected[i], topRows.argmax(i - 3), "top-k row at position " + (from + i));
                    int[] ids = top(topRows.logits(), topRows.logitsOffset(i - 3), vocab, LlamaStage.DEFAULT_SCREEN_TOP_K);
                    StringBuilder b = new StringBuilder();
                    for (int id : ids) b.append(id).append('=').append(Float.floatToIntBits(topRows.logits()[topRows.logitsOffset(i - 3) + id])).append(' ');
                    assertEquals(expectedTop[i], b.toString(), "top " + LlamaStage.DEFAULT_SCREEN_TOP_K + " at position " + (from + i));
                    if (stage.greedyHead().candidates(i - 3) > 0) topSettled++;
                }
                batch.clear();
                for (int i = 0; i < 5; i++) batch.addToken(1, from + i, history[from + i], RowOutput.GREEDY_TOKEN);
                StageOutput greedy = stage.forward(batch);
                for (int i = 0; i < 5; i++) {
                    assertEquals(expected[i], greedy.argmax(i), "position " + (from + i));
                    screenedRows++;
                    if (!greedy.hasLogits(i)) settled++;
                }
                batch.clear();
                batch.addToken(1, length - 1, history[length - 1], RowOutput.GREEDY_TOKEN);
                int next = stage.forward(batch).argmax(0);
                assertEquals(expected[4], next, "single row at position " + (length - 1));
                history[length++] = next;
            }
            // The screen settles nearly every row by itself; a row it gives up on still gets the right token.
            assertTrue(settled > screenedRows * 9 / 10, settled + " of " + screenedRows + " rows settled by the screen");
            assertTrue(topSettled > 200 * 9 / 10, topSettled + " of 200 top-k rows settled by the screen");
        }
    }
}
