package dev.tandem.engine.llama;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StageKernelWarmUpTest {

    private static LoadedModel model;
    private static ModelWeights weights;

    @BeforeAll
    static void load() {
        model = Stories15M.load();
        weights = model.weights();
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    /** The warm-up works on a scratch stage: the serving stage's cache and outputs are its own. */
    @Test
    void runsBesideAServingStageOfTheSameWeightsWithoutTouchingIt() {
        try (ParallelRunner runner = new ParallelRunner(2)) {
            LlamaStage serving = new LlamaStage(weights, 3, 6, runner, 8);
            float[] before = lastLogits(serving);
            StageKernelWarmUp w = StageKernelWarmUp.start(weights, 3, 6, Duration.ofSeconds(120), "test-warm-up");
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            // Serving goes on meanwhile, step after step, as on a worker that takes traffic while it warms up.
            while (!w.done() && System.nanoTime() < deadline) {
                assertArrayEquals(before, lastLogits(serving), "the same step while the warm-up runs");
            }
            assertTrue(w.done(), "settles (its round time stops falling) within its limit");
            assertTrue(w.rounds() >= 4, "ran rounds until settled: " + w.rounds());
            assertArrayEquals(before, lastLogits(serving));
            assertTrue(serving.cache().sequences().length == 0, "the serving stage's cache holds nothing of the warm-up's");
        }
    }

    @Test
    void stopEndsItPromptly() {
        StageKernelWarmUp w = StageKernelWarmUp.start(weights, 0, 3, Duration.ofSeconds(120), "test-warm-up-stop");
        long t0 = System.nanoTime();
        w.stop();
        assertTrue(w.done());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(30).toNanos(), "stopped within one forward");
    }

    /** Logits of one row at position 0 of sequence 9 (released afterwards). */
    private static float[] lastLogits(LlamaStage stage) {
        ForwardBatch b = new ForwardBatch(weights.config().dim(), 8);
        float[] hidden = new float[weights.config().dim()];
        for (int i = 0; i < hidden.length; i++) hidden[i] = (float) Math.cos(i * 0.1);
        b.addHidden(9, 0, hidden, 0, RowOutput.LOGITS);
        StageOutput out = stage.forward(b);
        float[] logits = java.util.Arrays.copyOfRange(out.logits(), out.logitsOffset(0), out.logitsOffset(0) + out.vocabSize());
        stage.cache().release(9);
        return logits;
    }
}
