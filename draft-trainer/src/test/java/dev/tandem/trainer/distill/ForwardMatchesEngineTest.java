package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The trainer's forward pass computes the function the engine serves (LlamaStage over the draft's weights). */
class ForwardMatchesEngineTest {

    @Test
    void logitsEqualLlamaStage() {
        DraftConfig c = new DraftConfig(16, 24, 2, 4, 2, 40, 25, 12, 1e-5f, 10000f);
        DraftModel model = DraftModel.random(c, TinyDrafts.reducedVocabulary(25, 40), 5);
        int[] tokens = {1, 7, 3, 30, 22, 9, 9, 0, 15, 39, 2};
        int n = tokens.length;
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) rows[i] = i;
        float[] ours = new DraftForward(c).logits(model, tokens, n, rows, n);
        try (ParallelRunner runner = new ParallelRunner(1)) {
            LlamaStage stage = new LlamaStage(model.weights(), 0, c.nLayers(), runner, n);
            ForwardBatch batch = new ForwardBatch(c.dim(), n);
            for (int i = 0; i < n; i++) batch.addToken(1, i, tokens[i], true);
            StageOutput out = stage.forward(batch);
            for (int i = 0; i < n; i++) {
                int off = out.logitsOffset(i);
                for (int j = 0; j < c.headSize(); j++) {
                    assertEquals(out.logits()[off + j], ours[i * c.headSize() + j], 1e-4, "row " + i + " logit " + j);
                }
            }
        }
    }
}
