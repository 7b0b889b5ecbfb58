package dev.tandem.engine.generate;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Greedy generation on stories15M equals, byte for byte, what llama2.c's run.c prints with
 * {@code -t 0 -n 256}: the prompt, then tokens until the 256-position context is full or the model
 * emits BOS (how stories15M ends a story), then one newline.
 */
class ReferenceOutputTest {

    private static LoadedModel model;
    private static ParallelRunner runner;
    private static LocalGenerator generator;

    @BeforeAll
    static void load() {
        // On huge pages (the default placement) where the host has them: the copy must give the same bytes out.
        model = Llama2cModelLoader.load(ModelStore.ensureDefault(ProgressListener.NONE).resolve("model.bin"))
                .placed(WeightsMemory.HUGE_PAGES);
        runner = new ParallelRunner(2);
        BpeTokenizer tokenizer = BpeTokenizer.fromLlama2c(ModelStore.ensureDefault(ProgressListener.NONE).resolve("tokenizer.bin"),
                model.config().vocabSize());
        generator = new LocalGenerator(model.weights(), tokenizer, runner);
    }

    @AfterAll
    static void close() {
        runner.close();
        model.close();
    }

    @ParameterizedTest
    @CsvSource({
            "Once upon a time, greedy_once_upon_a_time.txt, EOS",
            "Lily and Ben went to the park, greedy_lily_and_ben.txt, LENGTH"
    })
    void greedyOutputEqualsRunC(String prompt, String referenceFile, FinishReason expectedFinish) throws IOException {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        GenerationResult result = generator.generate(GenerationRequest.greedy(prompt, 10_000), new GenerationListener() {
            @Override
            public void onPrompt(byte[] text) { printed.writeBytes(text); }

            @Override
            public void onText(byte[] text, int tokenId) { printed.writeBytes(text); }
        });
        printed.write('\n');

        assertEquals(reference(referenceFile), printed.toString(StandardCharsets.UTF_8));
        assertEquals(expectedFinish, result.finishReason());
        if (expectedFinish == FinishReason.LENGTH) {
            // run.c -n 256 samples until the token after position 255: the context plus one.
            assertEquals(257, result.promptTokens().length + result.tokens().length, "tokens with the prompt");
        }
    }

    private static String reference(String name) throws IOException {
        try (InputStream in = ReferenceOutputTest.class.getResourceAsStream("/reference/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
