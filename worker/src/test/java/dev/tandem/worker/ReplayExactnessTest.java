package dev.tandem.worker;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Route changes recompute a sequence's KV by re-prefilling its token history on the new route instead of
 * copying pages. That is only allowed because a batched forward computes every row exactly as an incremental
 * one does (fixed accumulation order per row): this test checks it bit for bit on the real weights, with one
 * and with two compute threads, and also when the replayed sequence shares the batch with another one.
 */
class ReplayExactnessTest {

    private static final int PROMPT_TOKENS = 6;
    private static final int DECODED = 40;
    private static final int CONTINUED = 5;

    private static OpenedModel model;

    @BeforeAll
    static void open() {
        model = OpenedModel.open(OpenedModel.DEFAULT_SPEC, null, ProgressListener.NONE);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void rePrefillingTheTokenHistoryGivesTheIncrementalLogitsAndContinuation(int threads) {
        int layers = model.config().nLayers();
        int vocab = model.config().vocabSize();
        int[] prompt = model.tokenizer().encode("Once upon a time, a little fox", true, false);
        assertEquals(true, prompt.length >= PROMPT_TOKENS);
        try (ParallelRunner runner = new ParallelRunner(threads)) {
            // Incremental: the prompt in one prefill, then one row per step (as the scheduler runs it).
            LlamaStage incremental = new LlamaStage(model.model().weights(), 0, layers, runner, 64);
            ForwardBatch batch = new ForwardBatch(model.config().dim(), 64);
            int[] history = Arrays.copyOf(prompt, prompt.length + DECODED + 1 + CONTINUED);
            int length = prompt.length;
            for (int p = 0; p < prompt.length; p++) batch.addToken(1, p, prompt[p], p == prompt.length - 1);
            StageOutput out = incremental.forward(batch);
            history[length++] = out.argmax(prompt.length - 1);
            float[] lastIncrementalLogits = null;
            for (int step = 0; step < DECODED; step++) {
                batch.clear();
                batch.addToken(1, length - 1, history[length - 1], true);
                out = incremental.forward(batch);
                lastIncrementalLogits = Arrays.copyOfRange(out.logits(), out.logitsOffset(0), out.logitsOffset(0) + vocab);
                history[length++] = out.argmax(0);
            }

            // Replay: the whole history but the newest token as one prefill on a fresh stage (a new route),
            // sharing the batch with an unrelated sequence, the newest row wanting logits.
            LlamaStage replayed = new LlamaStage(model.model().weights(), 0, layers, runner, 64);
            batch.clear();
            for (int p = 0; p < 3; p++) batch.addToken(2, p, prompt[p], p == 2);
            int replayRows = length - 1;
            for (int p = 0; p < replayRows; p++) batch.addToken(1, p, history[p], p == replayRows - 1);
            out = replayed.forward(batch);
            int replayRow = 3 + replayRows - 1;
            float[] replayLogits = Arrays.copyOfRange(out.logits(), out.logitsOffset(replayRow),
                    out.logitsOffset(replayRow) + vocab);
            assertArrayEquals(lastIncrementalLogits, replayLogits, "logits after a replay differ from the incremental ones");
            assertEquals(history[length - 1], out.argmax(replayRow));

            // Both continue identically from there.
            for (int step = 0; step < CONTINUED; step++) {
                batch.clear();
                batch.addToken(1, length - 1, history[length - 1], true);
                StageOutput a = incremental.forward(batch);
                float[] la = Arrays.copyOfRange(a.logits(), a.logitsOffset(0), a.logitsOffset(0) + vocab);
                StageOutput b = replayed.forward(batch);
                float[] lb = Arrays.copyOfRange(b.logits(), b.logitsOffset(0), b.logitsOffset(0) + vocab);
                assertArrayEquals(la, lb, "continuation step " + step);
                history[length++] = a.argmax(0);
            }
        }
    }
}
