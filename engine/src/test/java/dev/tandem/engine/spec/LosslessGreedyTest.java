package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Greedy speculative decoding on stories15M outputs exactly what the target alone outputs, with every
 * proposer, for 50 varied prompts, byte for byte (tokens, text, the bytes streamed to the listener and the
 * finish reason; some requests end at a stop string or a small max-tokens). The reference is `none`,
 * which is checked against {@link LocalGenerator} on a subset (checking all 50 there would double the time).
 */
class LosslessGreedyTest {

    private static final int PROMPTS = 50;
    private static final int NEW_TOKENS = 48;
    /** Sequences batched per forward: batching is part of what is checked, and it keeps the suite fast. */
    private static final int BATCH = 25;
    private static final int LOCAL_GENERATOR_CHECKS = 6;
    /** Layers of the test draft: enough that some drafts are accepted and some rejected. */
    private static final int DRAFT_LAYERS = 3;

    private static LoadedModel model;
    private static Tokenizer tokenizer;
    private static ParallelRunner runner;
    private static DraftModel draft;
    private static List<GenerationRequest> requests;
    private static List<Output> reference;

    record Output(int[] tokens, byte[] text, byte[] streamed, String reason) {}

    @BeforeAll
    static void setUp() {
        model = Stories.load();
        tokenizer = Stories.tokenizer(model);
        runner = new ParallelRunner(2);
        draft = Stories.draftFromTarget(model, DRAFT_LAYERS);
        requests = new ArrayList<>();
        List<String> prompts = Stories.prompts(PROMPTS);
        for (int i = 0; i < prompts.size(); i++) {
            List<String> stops = i % 7 == 3 ? List.of(" was") : i % 11 == 5 ? List.of("\n") : List.of();
            int max = i % 9 == 4 ? 13 : NEW_TOKENS;
            requests.add(new GenerationRequest(prompts.get(i), max, SamplerSettings.greedy(), stops));
        }
        reference = run("none");
    }

    @AfterAll
    static void tearDown() {
        if (runner != null) runner.close();
        if (model != null) model.close();
    }

    private static List<Output> run(String proposer) {
        SpeculationCosts costs = new SpeculationCosts();
        List<Output> outputs = new ArrayList<>();
        try (SpeculativeGenerator generator = new SpeculativeGenerator(model.weights(), tokenizer, runner,
                Proposers.create(proposer, model.weights(), runner, draft, LayerSkipProposer.DEFAULT_LAYERS, costs), costs,
                SpeculationOptions.defaults())) {
            long proposed = 0;
            for (int from = 0; from < requests.size(); from += BATCH) {
                int to = Math.min(from + BATCH, requests.size());
                List<Recorder> recorders = new ArrayList<>();
                for (int i = from; i < to; i++) recorders.add(new Recorder());
                List<SpeculativeResult> results = generator.generateAll(requests.subList(from, to), List.copyOf(recorders));
                for (int i = 0; i < results.size(); i++) {
                    GenerationResult g = results.get(i).generation();
                    outputs.add(new Output(g.tokens(), g.text(), recorders.get(i).bytes(), g.finishReason().name()));
                    proposed += results.get(i).stats().proposed();
                }
            }
            assertEquals(0, generator.decoder().target().cache().sequences().length, "every sequence released its KV");
            if (!proposer.equals("none")) assertTrue(proposed > 0, proposer + " proposed nothing");
        }
        return outputs;
    }

    private static void assertSame(Output expected, Output actual, String what) {
        assertArrayEquals(expected.tokens(), actual.tokens(), what);
        assertArrayEquals(expected.text(), actual.text(), what);
        assertArrayEquals(expected.streamed(), actual.streamed(), what);
        assertEquals(expected.reason(), actual.reason(), what);
    }

    @Test
    void noneBatchedEqualsTheNonSpeculativeGenerator() {
        LocalGenerator local = new LocalGenerator(model.weights(), tokenizer, runner);
        for (int i = 0; i < PROMPTS; i += PROMPTS / LOCAL_GENERATOR_CHECKS) {
            Recorder rec = new Recorder();
            GenerationResult g = local.generate(requests.get(i), rec);
            assertSame(new Output(g.tokens(), g.text(), rec.bytes(), g.finishReason().name()), reference.get(i), "prompt " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ngram", "layerskip", "draft", "auto"})
    void everyProposerOutputsExactlyWhatTheTargetAloneOutputs(String proposer) {
        List<Output> outputs = run(proposer);
        for (int i = 0; i < PROMPTS; i++) {
            assertSame(reference.get(i), outputs.get(i), proposer + ", prompt " + i + " '" + requests.get(i).prompt() + "'");
        }
    }

    @Test
    void aSingleStreamWithLongDraftsMatchesAndSavesSteps() {
        // Text that repeats itself: prompt lookup finds long accepted runs.
        GenerationRequest r = GenerationRequest.greedy("The cat sat on the mat. The cat sat on the mat. The cat sat on the mat. The", 40);
        GenerationResult expected = new LocalGenerator(model.weights(), tokenizer, runner).generate(r, GenerationListener.NONE);
        SpeculationCosts costs = new SpeculationCosts();
        try (SpeculativeGenerator generator = new SpeculativeGenerator(model.weights(), tokenizer, runner,
                Proposers.create("ngram", model.weights(), runner, null, 1, costs), costs, SpeculationOptions.fixed(8))) {
            SpeculativeResult s = generator.generate(r, GenerationListener.NONE);
            assertArrayEquals(expected.tokens(), s.generation().tokens());
            assertArrayEquals(expected.text(), s.generation().text());
            assertTrue(s.stats().accepted() > 0 && s.stats().steps() < s.generation().tokens().length,
                    "prompt lookup saved no step: " + s.stats() + " on '" + s.generation().textAsString() + "'");
        }
    }

    static final class Recorder implements GenerationListener {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        @Override
        public void onText(byte[] text, int tokenId) { out.writeBytes(text); }

        byte[] bytes() { return out.toByteArray(); }
    }
}
