package dev.tandem.engine.llama;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaStageTest {

    /** Tolerance between a batched and a token-by-token forward (different summation orders are allowed). */
    private static final float BATCH_TOLERANCE = 1e-4f;
    private static final int[] PROMPT = {1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217,
            7826, 4257, 365, 2354, 29889, 2296, 18012, 304, 1708, 5377};

    private static LoadedModel model;
    private static ModelWeights weights;
    private static ParallelRunner runner;

    @BeforeAll
    static void load() {
        model = Stories15M.load();
        weights = model.weights();
        runner = new ParallelRunner(2);
    }

    @AfterAll
    static void close() {
        if (runner != null) runner.close();
        if (model != null) model.close();
    }

    private LlamaStage wholeModel() {
        return new LlamaStage(weights, 0, weights.config().nLayers(), runner, 32);
    }

    private ForwardBatch batch() {
        return new ForwardBatch(weights.config().dim(), 32);
    }

    /** Logits of every position of the tokens fed one at a time. */
    private float[][] oneAtATime(LlamaStage stage, long seq, int[] tokens, int fromPosition) {
        ForwardBatch b = batch();
        float[][] out = new float[tokens.length][];
        for (int i = 0; i < tokens.length; i++) {
            b.clear();
            b.addToken(seq, fromPosition + i, tokens[i], true);
            StageOutput o = stage.forward(b);
            out[i] = logitsOf(o, 0);
        }
        return out;
    }

    private static float[] logitsOf(StageOutput o, int row) {
        int off = o.logitsOffset(row);
        return Arrays.copyOfRange(o.logits(), off, off + o.vocabSize());
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float m = 0f;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void prefillInOneCallMatchesTokenByToken() {
        float[][] expected = oneAtATime(wholeModel(), 7, PROMPT, 0);
        LlamaStage stage = wholeModel();
        ForwardBatch b = batch();
        for (int i = 0; i < PROMPT.length; i++) b.addToken(7, i, PROMPT[i], true);
        StageOutput o = stage.forward(b);
        assertEquals(PROMPT.length, o.logitRows());
        for (int i = 0; i < PROMPT.length; i++) {
            float diff = maxAbsDiff(expected[i], logitsOf(o, i));
            assertTrue(diff <= BATCH_TOLERANCE, "position " + i + " differs by " + diff);
        }
        assertEquals(PROMPT.length, stage.cache().length(7));
    }

    @Test
    void twoStagesMatchTheWholeModelExactly() {
        int layers = weights.config().nLayers();
        int split = layers / 2;
        LlamaStage whole = wholeModel();
        LlamaStage front = new LlamaStage(weights, 0, split, runner, 32);
        LlamaStage back = new LlamaStage(weights, split, layers, runner, 32);
        assertTrue(front.isFirst() && !front.isLast() && !back.isFirst() && back.isLast());
        ForwardBatch tokens = batch();
        ForwardBatch hidden = batch();
        // A prefill, then two single-token steps: the cache of each half must line up with the whole model's.
        int[][] steps = {Arrays.copyOf(PROMPT, 8), {PROMPT[8]}, {PROMPT[9]}};
        int pos = 0;
        for (int[] step : steps) {
            tokens.clear();
            for (int i = 0; i < step.length; i++) tokens.addToken(3, pos + i, step[i], true);
            StageOutput expected = whole.forward(tokens);
            float[][] wholeLogits = new float[step.length][];
            for (int i = 0; i < step.length; i++) wholeLogits[i] = logitsOf(expected, i);

            StageOutput mid = front.forward(tokens);
            assertEquals(0, mid.logitRows());
            hidden.clear();
            for (int i = 0; i < step.length; i++) hidden.addHidden(3, pos + i, mid.hidden(), mid.hiddenOffset(i), true);
            StageOutput out = back.forward(hidden);
            for (int i = 0; i < step.length; i++) assertArrayEquals(wholeLogits[i], logitsOf(out, i), "row " + i);
            pos += step.length;
        }
    }

    @Test
    void sequencesInOneBatchMatchEachAlone() {
        int[] a = Arrays.copyOf(PROMPT, 6);
        int[] bTokens = Arrays.copyOfRange(PROMPT, 5, 9);
        int[] c = {1, 365, 2354};
        float[][] aAlone = oneAtATime(wholeModel(), 1, a, 0);
        float[][] bAlone = oneAtATime(wholeModel(), 2, bTokens, 0);
        float[][] cAlone = oneAtATime(wholeModel(), 3, c, 0);

        // Prefill a and b together (c absent), then decode all three in one batch with one row each.
        LlamaStage stage = wholeModel();
        ForwardBatch batch = batch();
        for (int i = 0; i < 5; i++) batch.addToken(1, i, a[i], i == 4);
        for (int i = 0; i < 3; i++) batch.addToken(2, i, bTokens[i], i == 1);
        StageOutput o = stage.forward(batch);
        assertEquals(2, o.logitRows());
        assertTrue(maxAbsDiff(aAlone[4], logitsOf(o, 4)) <= BATCH_TOLERANCE);
        assertTrue(maxAbsDiff(bAlone[1], logitsOf(o, 6)) <= BATCH_TOLERANCE);

        batch.clear();
        batch.addToken(3, 0, c[0], true);
        batch.addToken(1, 5, a[5], true);
        batch.addToken(2, 3, bTokens[3], true);
        o = stage.forward(batch);
        assertTrue(maxAbsDiff(cAlone[0], logitsOf(o, 0)) <= BATCH_TOLERANCE);
        assertTrue(maxAbsDiff(aAlone[5], logitsOf(o, 1)) <= BATCH_TOLERANCE);
        assertTrue(maxAbsDiff(bAlone[3], logitsOf(o, 2)) <= BATCH_TOLERANCE);
        assertEquals(6, stage.cache().length(1));
        assertEquals(4, stage.cache().length(2));
        assertEquals(1, stage.cache().length(3));
    }

    @Test
    void truncatedDraftTokensAreForgotten() {
        int[] accepted = Arrays.copyOf(PROMPT, 7);
        int[] rejected = {2001, 3002, 4003, 5004};
        int[] replacement = {PROMPT[7], PROMPT[8]};
        LlamaStage stage = wholeModel();
        ForwardBatch b = batch();
        for (int i = 0; i < accepted.length; i++) b.addToken(9, i, accepted[i], false);
        for (int i = 0; i < rejected.length; i++) b.addToken(9, accepted.length + i, rejected[i], true);
        stage.forward(b);
        assertEquals(accepted.length + rejected.length, stage.cache().length(9));

        stage.cache().truncate(9, accepted.length);
        assertEquals(accepted.length, stage.cache().length(9));
        float[][] after = oneAtATime(stage, 9, replacement, accepted.length);

        int[] fresh = Arrays.copyOf(PROMPT, 9);
        float[][] expected = oneAtATime(wholeModel(), 9, fresh, 0);
        assertArrayEquals(expected[7], after[0]);
        assertArrayEquals(expected[8], after[1]);

        // Overwriting without an explicit truncate drops the later positions too.
        b.clear();
        for (int i = 0; i < rejected.length; i++) b.addToken(9, accepted.length + i, rejected[i], false);
        stage.forward(b);
        float[][] again = oneAtATime(stage, 9, replacement, accepted.length);
        assertArrayEquals(expected[7], again[0]);
        assertEquals(accepted.length + 2, stage.cache().length(9));
    }

    @Test
    void rejectsAGapInPositions() {
        LlamaStage stage = wholeModel();
        ForwardBatch b = batch();
        b.addToken(4, 2, 100, true);
        assertThrows(IllegalArgumentException.class, () -> stage.forward(b));
    }

    @Test
    void aFullKvCacheRefusesTheStepBeforeWritingAndServesAgainOnceSpaceIsFreed() {
        int limit = 2 * KvCache.PAGE_POSITIONS;
        LlamaStage limited = new LlamaStage(weights, 0, weights.config().nLayers(),
                new KvCache(weights.config(), 0, weights.config().nLayers(), limit), runner, 64);
        LlamaStage unlimited = wholeModel();
        ForwardBatch b = batch();
        for (int p = 0; p < PROMPT.length; p++) b.addToken(1, p, PROMPT[p], p == PROMPT.length - 1);
        float[] expected = logitsOf(unlimited.forward(b), PROMPT.length - 1);
        assertArrayEquals(expected, logitsOf(limited.forward(b), PROMPT.length - 1)); // 20 positions: 2 pages, the whole limit

        // Another sequence needs a page more than the limit has: refused, and nothing of either sequence changes.
        ForwardBatch more = batch();
        more.addToken(2, 0, PROMPT[0], true);
        IllegalArgumentException full = assertThrows(IllegalArgumentException.class, () -> limited.forward(more));
        assertTrue(full.getMessage().contains("KV cache of layers [0, 6) is full") && full.getMessage().contains("nothing was written"),
                full.getMessage());
        assertEquals(PROMPT.length, limited.cache().length(1));
        assertEquals(0, limited.cache().length(2));
        assertEquals(2, limited.cache().pagesInUse());

        // A step within the pages a sequence holds still runs (position 20 is in its second page) and is exact.
        ForwardBatch next = batch();
        next.addToken(1, PROMPT.length, 1708, true);
        assertArrayEquals(logitsOf(unlimited.forward(next), 0), logitsOf(limited.forward(next), 0));

        // Once the first sequence is released, the second fits.
        limited.cache().release(1);
        assertArrayEquals(logitsOf(unlimited.forward(more), 0), logitsOf(limited.forward(more), 0));
    }

    @Test
    void rejectsASequenceSplitOverTwoRuns() {
        LlamaStage stage = wholeModel();
        ForwardBatch b = batch();
        b.addToken(4, 0, 1, true);
        b.addToken(5, 0, 1, true);
        b.addToken(4, 1, 100, true);
        assertThrows(IllegalArgumentException.class, () -> stage.forward(b));
    }

    @Test
    void greedyDecodeOfOnceUponATimeStartsLikeRunC() throws Exception {
        int[] tokens = greedy(Stories15M.ONCE_UPON_A_TIME, 20);
        String text = Stories15M.decode(tokens, tokens.length, Stories15M.pieces(weights.config().vocabSize()));
        String expected = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine.";
        assertTrue(text.startsWith(expected.substring(0, Math.min(expected.length(), text.length())))
                && text.length() >= "Once upon a time, there was a little girl named Lily. She loved to play".length(), text);
    }

    @Test
    void greedyDecodeOfTheWholeContextMatchesRunC() throws Exception {
        Path reference = Path.of(LlamaStageTest.class.getResource("/reference/greedy_once_upon_a_time.txt").toURI());
        int[] tokens = greedy(Stories15M.ONCE_UPON_A_TIME, weights.config().seqLen() - Stories15M.ONCE_UPON_A_TIME.length);
        String text = Stories15M.decode(tokens, tokens.length, Stories15M.pieces(weights.config().vocabSize()));
        assertEquals(Files.readString(reference).strip(), text.strip());
    }

    /** Prefills the prompt in one call, then decodes greedily until BOS or {@code steps} new tokens. */
    private int[] greedy(int[] prompt, int steps) {
        LlamaStage stage = wholeModel();
        ForwardBatch b = batch();
        for (int i = 0; i < prompt.length; i++) b.addToken(0, i, prompt[i], i == prompt.length - 1);
        int[] tokens = Arrays.copyOf(prompt, prompt.length + steps);
        int count = prompt.length;
        int next = stage.forward(b).argmax(prompt.length - 1);
        while (count < tokens.length && next != Stories15M.BOS) {
            tokens[count] = next;
            b.clear();
            b.addToken(0, count, next, true);
            count++;
            if (count == tokens.length) break;
            next = stage.forward(b).argmax(0);
        }
        return Arrays.copyOf(tokens, count);
    }
}
