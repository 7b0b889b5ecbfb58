package dev.tandem.engine.format;

import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tensor.QuantKernel;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** stories15M converted to quantized GGUF still writes the same stories: greedy text and perplexity. */
class QuantizedModelQualityTest {

    private static final int GREEDY_TOKENS = 64;
    private static final String TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside "
            + "in the park with her friends. One day, she saw a big red ball under a tree. She ran to get it, but a small "
            + "dog took the ball and ran away. Lily was sad. Her mom said, \"Don't worry, we can find the dog together.\" "
            + "They looked everywhere and found the dog by the pond. The dog gave the ball back and Lily smiled. "
            + "They played together until the sun went down.";

    @TempDir
    static Path dir;
    private static LoadedModel f32;
    private static LoadedModel q8;
    private static LoadedModel q4;
    private static LoadedModel q8Int8;
    private static ParallelRunner runner;
    private static BpeTokenizer tokenizer;

    @BeforeAll
    static void load() throws IOException {
        f32 = RealModel.load();
        ModelConverter.convert(f32, null, dir.resolve("q8_0.gguf"), TensorType.Q8_0);
        ModelConverter.convert(f32, null, dir.resolve("q4_0.gguf"), TensorType.Q4_0);
        q8 = ModelLoader.load(dir.resolve("q8_0.gguf"), null);
        q4 = ModelLoader.load(dir.resolve("q4_0.gguf"), null);
        q8Int8 = GgufModelLoader.load(dir.resolve("q8_0.gguf"), QuantKernel.INT8_DOT);
        tokenizer = new BpeTokenizer(q8.vocabulary().orElseThrow());
        runner = new ParallelRunner(2);
    }

    @AfterAll
    static void close() {
        for (AutoCloseable c : new AutoCloseable[]{runner, q8Int8, q4, q8, f32}) {
            try {
                if (c != null) c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    @Test
    void q8GreedyTextEqualsFloat32() {
        for (String prompt : new String[]{"Once upon a time", "Lily and Ben went to the park"}) {
            int[] expected = greedy(f32.weights(), prompt);
            int[] actual = greedy(q8.weights(), prompt);
            assertEquals(GREEDY_TOKENS, expected.length);
            assertArrayEquals(expected, actual, "Q8_0 greedy continuation of \"" + prompt + "\": "
                    + tokenizer.decode(actual) + "\nfloat32: " + tokenizer.decode(expected));
        }
    }

    @Test
    void perplexityStaysClose() {
        int[] tokens = tokenizer.encode(TEXT, true, false);
        double reference = perplexity(f32.weights(), tokens);
        double q8Perplexity = perplexity(q8.weights(), tokens);
        double q4Perplexity = perplexity(q4.weights(), tokens);
        double int8Perplexity = perplexity(q8Int8.weights(), tokens);
        System.out.printf("perplexity over %d tokens: f32 %.4f, q8_0 %.4f, q8_0 with int8 activations %.4f, q4_0 %.4f%n",
                tokens.length, reference, q8Perplexity, int8Perplexity, q4Perplexity);
        assertEquals(reference, int8Perplexity, reference * 0.01, "Q8_0 (int8 kernel) perplexity within 1%");
        assertTrue(reference > 1 && reference < 20, "float32 perplexity " + reference);
        assertEquals(reference, q8Perplexity, reference * 0.01, "Q8_0 perplexity within 1%");
        assertEquals(reference, q4Perplexity, reference * 0.15, "Q4_0 perplexity within 15%");
    }

    private int[] greedy(ModelWeights weights, String prompt) {
        LocalGenerator generator = new LocalGenerator(weights, tokenizer, runner);
        return generator.generate(GenerationRequest.greedy(prompt, GREEDY_TOKENS), GenerationListener.NONE).tokens();
    }

    /** exp of the mean negative log-likelihood of each next token, from one multi-token forward. */
    private double perplexity(ModelWeights weights, int[] tokens) {
        LlamaStage stage = new LlamaStage(weights, 0, weights.config().nLayers(), runner, tokens.length);
        ForwardBatch batch = new ForwardBatch(weights.config().dim(), tokens.length);
        for (int i = 0; i < tokens.length; i++) batch.addToken(1, i, tokens[i], true);
        StageOutput out = stage.forward(batch);
        double nll = 0;
        for (int i = 0; i + 1 < tokens.length; i++) {
            float[] logits = out.logits();
            int off = out.logitsOffset(i);
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < out.vocabSize(); v++) max = Math.max(max, logits[off + v]);
            double sum = 0;
            for (int v = 0; v < out.vocabSize(); v++) sum += Math.exp(logits[off + v] - max);
            nll -= logits[off + tokens[i + 1]] - max - Math.log(sum);
        }
        return Math.exp(nll / (tokens.length - 1));
    }
}
