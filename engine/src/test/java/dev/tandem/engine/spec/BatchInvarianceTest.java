package dev.tandem.engine.spec;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Greedy speculation is exact only because a row's logits do not depend on what else is in the batch:
 * verifying k drafts in one forward (with other sequences alongside) must give bit-for-bit the logits of
 * feeding the same tokens one at a time. Kernels that change the summation order with the batch size would
 * break this; this test says so directly.
 */
class BatchInvarianceTest {

    private static final int[] TOKENS = {1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 7826};
    private static final int PREFIX = 4;

    @Test
    void verificationRowsEqualOneTokenAtATimeBitForBit() {
        try (LoadedModel model = Stories.load(); ParallelRunner runner = new ParallelRunner(2)) {
            int vocab = model.config().vocabSize();
            LlamaStage single = new LlamaStage(model.weights(), 0, model.config().nLayers(), runner, 16);
            ForwardBatch b = new ForwardBatch(model.config().dim(), 16);
            float[][] expected = new float[TOKENS.length][];
            for (int i = 0; i < TOKENS.length; i++) {
                b.clear();
                b.addToken(0, i, TOKENS[i], true);
                StageOutput o = single.forward(b);
                expected[i] = Arrays.copyOfRange(o.logits(), o.logitsOffset(0), o.logitsOffset(0) + vocab);
            }

            LlamaStage batched = new LlamaStage(model.weights(), 0, model.config().nLayers(), runner, 16);
            b.clear();
            for (int i = 0; i < PREFIX; i++) b.addToken(0, i, TOKENS[i], false);
            b.addToken(5, 0, 1, true); // another sequence in the same batch
            b.addToken(5, 1, 450, true);
            batched.forward(b);
            b.clear();
            b.addToken(5, 2, 11203, true);
            for (int i = PREFIX; i < TOKENS.length; i++) b.addToken(0, i, TOKENS[i], true); // "verification" rows
            StageOutput o = batched.forward(b);
            for (int i = PREFIX; i < TOKENS.length; i++) {
                int row = 1 + i - PREFIX;
                float[] actual = Arrays.copyOfRange(o.logits(), o.logitsOffset(row), o.logitsOffset(row) + vocab);
                assertArrayEquals(expected[i], actual, "position " + i);
            }
        }
    }
}
