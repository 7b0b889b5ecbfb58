package dev.tandem.engine.model;

import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.memory.HugePageUsage;
import dev.tandem.engine.memory.TransparentHugePages;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tensor.PackedF32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Weights copied to huge pages: only the stage's tensors, really on huge pages, packed; the same greedy tokens as
 * the mapped weights with logits equal to rounding, and the packed products batch-invariant bit for bit.
 */
class ResidentWeightsTest {

    private static final int[] PROMPT = {1, 9038, 2501, 263, 931, 29892, 727, 471};

    private static LoadedModel model;
    private static ParallelRunner runner;

    @BeforeAll
    static void load() {
        model = Llama2cModelLoader.load(ModelStore.ensureDefault(ProgressListener.NONE).resolve(ModelStore.MODEL_FILE));
        runner = new ParallelRunner(2);
    }

    @AfterAll
    static void close() {
        if (runner != null) runner.close();
        if (model != null) model.close();
    }

    @Test
    void mappedKeepsTheSameWeights() {
        try (Arena arena = Arena.ofConfined()) {
            assertSame(model.weights(), ResidentWeights.place(model.weights(), 0, 6, WeightsMemory.MAPPED, arena));
        }
    }

    /** Packed products add in another order than the mapped kernel: logits agree to about this much. */
    private static final float LOGIT_TOLERANCE = 1e-4f;

    @Test
    void wholeModelOnHugePagesGivesTheSameTokensAndNearlyTheSameLogits() {
        assumeTrue(TransparentHugePages.availableForMadvise(), "no transparent huge pages for madvise on this host");
        ModelWeights mapped = model.weights();
        int layers = mapped.config().nLayers();
        try (Arena arena = Arena.ofShared()) {
            ModelWeights placed = ResidentWeights.place(mapped, 0, layers, WeightsMemory.HUGE_PAGES, arena);
            assertNotSame(mapped.output(), placed.output());
            assertSame(placed.tokenEmbedding(), placed.output(), "a tied head stays one matrix, copied once");
            WeightMatrix head = placed.output();
            assertInstanceOf(PackedF32Matrix.class, head);
            assertEquals(0, head.segment().address() % 64, "a packed copy starts on a cache line");
            OptionalLong huge = HugePageUsage.anonHugeBytes(head.segment());
            assertTrue(huge.isPresent() && huge.getAsLong() >= head.segment().byteSize() / 2,
                    "the head's " + head.segment().byteSize() + " bytes are mostly on huge pages; smaps: " + huge);
            float[] embedded = new float[mapped.config().dim()];
            float[] expected = new float[embedded.length];
            for (int token : PROMPT) {
                placed.tokenEmbedding().readRow(token, embedded, 0);
                mapped.tokenEmbedding().readRow(token, expected, 0);
                assertArrayEquals(expected, embedded, "the tied embedding reads token " + token + "'s row back exactly");
            }
            float[] a = logits(mapped, 0, layers);
            float[] b = logits(placed, 0, layers);
            int vocab = mapped.config().vocabSize();
            float maxDiff = 0;
            for (int i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            assertTrue(maxDiff <= LOGIT_TOLERANCE, "max logit difference " + maxDiff);
            for (int p = 0; p < PROMPT.length; p++) {
                assertEquals(argmax(a, p * vocab, vocab), argmax(b, p * vocab, vocab), "greedy token after position " + p);
            }
        }
    }

    /** Each prompt position's logits through the packed weights are the same bits alone as inside the whole prompt. */
    @Test
    void packedLogitsDoNotDependOnTheBatch() {
        ModelWeights mapped = model.weights();
        int layers = mapped.config().nLayers();
        try (Arena arena = Arena.ofShared()) {
            ModelWeights placed = ResidentWeights.place(mapped, 0, layers, WeightsMemory.HUGE_PAGES, arena);
            float[] together = logits(placed, 0, layers);
            int vocab = mapped.config().vocabSize();
            LlamaStage stage = new LlamaStage(placed, 0, layers, runner, PROMPT.length);
            ForwardBatch batch = new ForwardBatch(mapped.config().dim(), PROMPT.length);
            for (int i = 0; i < PROMPT.length; i++) {
                batch.clear();
                batch.addToken(0, i, PROMPT[i], true);
                StageOutput out = stage.forward(batch);
                assertArrayEquals(Arrays.copyOfRange(together, i * vocab, (i + 1) * vocab),
                        Arrays.copyOfRange(out.logits(), out.logitsOffset(0), out.logitsOffset(0) + vocab), "position " + i);
            }
        }
    }

    private static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (v[off + i] > v[off + best]) best = i;
        return best;
    }

    @Test
    void aMiddleStageCopiesOnlyItsLayers() {
        assumeTrue(TransparentHugePages.availableForMadvise(), "no transparent huge pages for madvise on this host");
        ModelWeights mapped = model.weights();
        try (Arena arena = Arena.ofShared()) {
            ModelWeights placed = ResidentWeights.place(mapped, 2, 4, WeightsMemory.HUGE_PAGES, arena);
            assertSame(mapped.tokenEmbedding(), placed.tokenEmbedding(), "not a first stage: embedding not copied");
            assertSame(mapped.output(), placed.output(), "not a last stage: head not copied");
            for (int l = 0; l < mapped.config().nLayers(); l++) {
                boolean own = l >= 2 && l < 4;
                if (own) assertNotSame(mapped.layers().get(l).w1(), placed.layers().get(l).w1(), "layer " + l);
                else assertSame(mapped.layers().get(l), placed.layers().get(l), "layer " + l);
            }
            float[] a = hidden(mapped);
            float[] b = hidden(placed);
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], LOGIT_TOLERANCE, "hidden " + i);
        }
    }

    @Test
    void aFirstStageLeavesTheEmbeddingMapped() {
        assumeTrue(TransparentHugePages.availableForMadvise(), "no transparent huge pages for madvise on this host");
        ModelWeights mapped = model.weights();
        try (Arena arena = Arena.ofShared()) {
            ModelWeights placed = ResidentWeights.place(mapped, 0, 2, WeightsMemory.HUGE_PAGES, arena);
            assertSame(mapped.tokenEmbedding(), placed.tokenEmbedding(), "one row per token: not worth a copy");
            assertNotSame(mapped.layers().get(1).wq(), placed.layers().get(1).wq());
            assertSame(mapped.layers().get(2), placed.layers().get(2));
        }
    }

    /** Logits of every prompt position through a stage of [from, to) over these weights. */
    private static float[] logits(ModelWeights w, int from, int to) {
        LlamaStage stage = new LlamaStage(w, from, to, runner, PROMPT.length);
        ForwardBatch batch = new ForwardBatch(w.config().dim(), PROMPT.length);
        for (int i = 0; i < PROMPT.length; i++) batch.addToken(0, i, PROMPT[i], true);
        StageOutput out = stage.forward(batch);
        int vocab = out.vocabSize();
        float[] all = new float[PROMPT.length * vocab];
        for (int i = 0; i < PROMPT.length; i++) System.arraycopy(out.logits(), out.logitsOffset(i), all, i * vocab, vocab);
        return all;
    }

    /** Hidden states after layers [2, 4), fed by the mapped first two layers. */
    private static float[] hidden(ModelWeights w) {
        int dim = w.config().dim();
        LlamaStage front = new LlamaStage(model.weights(), 0, 2, runner, PROMPT.length);
        LlamaStage middle = new LlamaStage(w, 2, 4, runner, PROMPT.length);
        ForwardBatch batch = new ForwardBatch(dim, PROMPT.length);
        for (int i = 0; i < PROMPT.length; i++) batch.addToken(0, i, PROMPT[i], false);
        StageOutput first = front.forward(batch);
        ForwardBatch next = new ForwardBatch(dim, PROMPT.length);
        for (int i = 0; i < PROMPT.length; i++) next.addHidden(0, i, first.hidden(), first.hiddenOffset(i), false);
        StageOutput out = middle.forward(next);
        return Arrays.copyOf(out.hidden(), PROMPT.length * dim);
    }
}
