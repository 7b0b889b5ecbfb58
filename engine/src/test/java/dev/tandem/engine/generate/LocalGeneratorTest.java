package dev.tandem.engine.generate;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalGeneratorTest {

    private static LoadedModel model;
    private static ParallelRunner runner;
    private static LocalGenerator generator;

    @BeforeAll
    static void load() {
        model = Llama2cModelLoader.load(ModelStore.ensureDefault(ProgressListener.NONE).resolve("model.bin"));
        runner = new ParallelRunner(2);
        generator = new LocalGenerator(model.weights(),
                BpeTokenizer.fromLlama2c(ModelStore.ensureDefault(ProgressListener.NONE).resolve("tokenizer.bin"), model.config().vocabSize()),
                runner);
    }

    @AfterAll
    static void close() {
        runner.close();
        model.close();
    }

    @Test
    void maxTokensCountsNewTokens() {
        GenerationResult r = generator.generate(GenerationRequest.greedy("Once upon a time", 10), GenerationListener.NONE);
        assertEquals(10, r.tokens().length);
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(", there was a little girl named Lily.", r.textAsString());
    }

    @Test
    void stopStringEndsGenerationWithoutBeingEmitted() {
        GenerationResult r = generator.generate(new GenerationRequest("Once upon a time", 100, SamplerSettings.greedy(),
                List.of("Lily")), GenerationListener.NONE);
        assertEquals(FinishReason.STOP, r.finishReason());
        assertEquals(", there was a little girl named ", r.textAsString());
    }

    @Test
    void seededSamplingReproducesAndDiffersAcrossSeeds() {
        GenerationRequest a = new GenerationRequest("Lily and Ben", 40, new SamplerSettings(1.0f, 0, 0.9f, 42), List.of());
        GenerationRequest b = new GenerationRequest("Lily and Ben", 40, new SamplerSettings(1.0f, 0, 0.9f, 43), List.of());
        int[] first = generator.generate(a, GenerationListener.NONE).tokens();
        int[] again = generator.generate(a, GenerationListener.NONE).tokens();
        int[] other = generator.generate(b, GenerationListener.NONE).tokens();
        assertArrayEquals(first, again);
        assertFalse(java.util.Arrays.equals(first, other));
    }

    @Test
    void cancellationStopsBeforeTheNextStep() {
        int[] steps = {0};
        GenerationResult r = generator.generate(GenerationRequest.greedy("Once upon a time", 100), new GenerationListener() {
            @Override
            public void onText(byte[] text, int tokenId) { steps[0]++; }

            @Override
            public boolean cancelled() { return steps[0] >= 3; }
        });
        assertEquals(FinishReason.CANCELLED, r.finishReason());
        assertEquals(3, r.tokens().length);
    }

    @Test
    void badPromptsAreRejectedWithClearMessages() {
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> generator.generate(GenerationRequest.greedy("", 5), GenerationListener.NONE));
        assertEquals("the prompt is empty", empty.getMessage());
        String huge = "Once upon a time ".repeat(100);
        IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                () -> generator.generate(GenerationRequest.greedy(huge, 5), GenerationListener.NONE));
        assertTrue(tooLong.getMessage().contains("context of 256 tokens"), tooLong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.greedy("x", 0));
    }

    @Test
    void everyGenerationReleasesItsKvCache() {
        generator.generate(GenerationRequest.greedy("Once upon a time", 5), GenerationListener.NONE);
        GenerationResult r = generator.generate(GenerationRequest.greedy("Once upon a time", 5), GenerationListener.NONE);
        assertNotEquals(0, r.tokens().length);
    }
}
