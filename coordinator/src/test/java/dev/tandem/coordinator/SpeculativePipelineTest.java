package dev.tandem.coordinator;

import akka.stream.javadsl.Sink;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.spec.DraftSource;
import dev.tandem.engine.bench.StoryPrompts;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.DraftModelProposer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Speculative decoding through a two-worker pipeline (three actor systems over Artery, so drafts and
 * verified tokens go through Kryo and the hidden states through Arrow): for 50 story prompts, every proposer
 * streams exactly what {@code none} streams, token for token and byte for byte, with stop strings and short
 * budgets mixed in; drafts are really proposed and accepted; sampled speculation (draft q travelling to the
 * last stage) runs, and reproduces for a fixed seed with a deterministic proposer (the n-gram table learns from
 * all traffic, so its drafts, and with them the random draws, differ from run to run); a long generation with
 * many rejections equals none. k is fixed at 4 here so that rejections are as frequent as possible.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpeculativePipelineTest {

    private static final int PROMPTS = 50;
    private static final int NEW_TOKENS = 40;
    private static final int STREAMS = 8;
    /** The test draft: the target's first layers and a head over its first ids (often right, often wrong). */
    private static final int DRAFT_LAYERS = 3;
    private static final int DRAFT_HEAD_TOKENS = 4096;

    private TestCluster cluster;
    private List<GenerationSpec> requests;
    private List<Output> reference;

    record Output(int[] tokens, byte[] text, String reason, GenerationEvent.Usage usage) {}

    @BeforeAll
    void start() throws Exception {
        DraftSource drafts = (model, target, runner) -> {
            int vocab = target.config().vocabSize();
            DraftModel draft = DraftModel.fromTarget(target.model().weights(), DRAFT_LAYERS,
                    ReducedVocabulary.firstTokens(DRAFT_HEAD_TOKENS, vocab));
            return DraftModelProposer.factory(draft, vocab, target.config().seqLen(), runner);
        };
        cluster = new TestCluster("""
                tandem.coordinator.min-workers = 2
                tandem.coordinator.max-batch-sequences = 16
                # Always draft 4 (no adaptive back-off): the most rejections, the hardest test of exactness.
                tandem.coordinator.speculation.adaptive = off
                tandem.coordinator.speculation.max-drafts = 4
                """, drafts);
        for (int i = 0; i < 2; i++) cluster.addWorker(cluster.budgetForLayers(3), "");
        cluster.awaitReady();
        requests = new ArrayList<>();
        List<String> prompts = StoryPrompts.make(PROMPTS);
        for (int i = 0; i < PROMPTS; i++) {
            List<String> stops = i % 7 == 3 ? List.of(" was") : i % 11 == 5 ? List.of("\n") : List.of();
            int max = i % 9 == 4 ? 13 : NEW_TOKENS;
            requests.add(new GenerationSpec("default", prompts.get(i), max, SamplerSettings.greedy(), stops, "", ""));
        }
        reference = run("none", requests);
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    private List<Output> run(String proposer, List<GenerationSpec> specs) throws Exception {
        List<Output> outputs = new ArrayList<>();
        for (int from = 0; from < specs.size(); from += STREAMS) {
            List<CompletionStage<List<GenerationEvent>>> runs = new ArrayList<>();
            for (GenerationSpec spec : specs.subList(from, Math.min(from + STREAMS, specs.size()))) {
                GenerationSpec s = new GenerationSpec(spec.model(), spec.prompt(), spec.maxNewTokens(), spec.sampling(),
                        spec.stopStrings(), proposer, spec.trafficClass());
                runs.add(cluster.backend.generate(s).runWith(Sink.seq(), cluster.coordinator));
            }
            for (CompletionStage<List<GenerationEvent>> run : runs) {
                outputs.add(output(run.toCompletableFuture().get(TestCluster.TIMEOUT.toSeconds(), TimeUnit.SECONDS)));
            }
        }
        return outputs;
    }

    private static Output output(List<GenerationEvent> events) {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        List<Integer> tokens = new ArrayList<>();
        GenerationEvent.Finished end = null;
        for (GenerationEvent e : events) {
            switch (e) {
                case GenerationEvent.TextDelta d -> {
                    text.writeBytes(d.text().getBytes(StandardCharsets.UTF_8));
                    for (int t : d.tokenIds()) tokens.add(t);
                }
                case GenerationEvent.Finished f -> end = f;
            }
        }
        assertInstanceOf(GenerationEvent.Finished.class, end, "the stream ends with Finished");
        return new Output(tokens.stream().mapToInt(Integer::intValue).toArray(), text.toByteArray(), end.reason().name(), end.usage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"ngram", "layerskip", "draft", "auto"})
    void everyProposerStreamsExactlyWhatNoneStreams(String proposer) throws Exception {
        List<Output> outputs = run(proposer, requests);
        long proposed = 0;
        long accepted = 0;
        for (int i = 0; i < PROMPTS; i++) {
            Output expected = reference.get(i);
            Output actual = outputs.get(i);
            String what = proposer + ", prompt " + i + " '" + requests.get(i).prompt() + "'";
            assertArrayEquals(expected.tokens(), actual.tokens(), what);
            assertArrayEquals(expected.text(), actual.text(), what);
            assertEquals(expected.reason(), actual.reason(), what);
            assertEquals(expected.usage().completionTokens(), actual.usage().completionTokens(), what);
            proposed += actual.usage().proposed();
            accepted += actual.usage().accepted();
            assertTrue(actual.usage().accepted() + actual.usage().rejected() <= actual.usage().proposed(), what + ": " + actual.usage());
            assertTrue(actual.usage().rejected() <= actual.usage().steps(), what + ": at most one rejection per step " + actual.usage());
            assertTrue(actual.usage().steps() <= expected.usage().steps(), what + ": more steps than without speculation");
        }
        assertTrue(proposed > 0 && accepted > 0, proposer + " proposed " + proposed + ", accepted " + accepted);
        assertEquals(proposer, outputs.getFirst().usage().proposer());
        assertTrue(reference.stream().allMatch(o -> o.usage().proposed() == 0 && o.usage().proposer().equals("none")));
    }

    @Test
    void aLongGenerationWithManyRejectionsEqualsNone() throws Exception {
        GenerationSpec spec = new GenerationSpec("default", "Once upon a time, there was a little robot", 250,
                SamplerSettings.greedy(), List.of(), "", "");
        Output none = run("none", List.of(spec)).getFirst();
        for (String proposer : List.of("layerskip", "draft")) {
            Output speculative = run(proposer, List.of(spec)).getFirst();
            assertArrayEquals(none.tokens(), speculative.tokens(), proposer);
            assertArrayEquals(none.text(), speculative.text(), proposer);
            long rejected = speculative.usage().rejected();
            assertTrue(rejected > 10, proposer + " rejected only " + rejected + " drafts: " + speculative.usage());
            assertTrue(speculative.usage().accepted() + rejected <= speculative.usage().proposed(), proposer + ": " + speculative.usage());
        }
    }

    @Test
    void sampledSpeculationRunsAndReproducesForASeed() throws Exception {
        SamplerSettings sampling = new SamplerSettings(0.8f, 0, 0.95f, 4242);
        List<GenerationSpec> specs = new ArrayList<>();
        for (int i = 0; i < STREAMS; i++) {
            specs.add(new GenerationSpec("default", requests.get(i).prompt(), NEW_TOKENS,
                    new SamplerSettings(sampling.temperature(), sampling.topK(), sampling.topP(), sampling.seed() + i), List.of(), "", ""));
        }
        for (String proposer : List.of("draft", "ngram")) {
            List<Output> first = run(proposer, specs);
            List<Output> again = proposer.equals("draft") ? run(proposer, specs) : first;
            long proposed = 0;
            long rejected = 0;
            for (int i = 0; i < specs.size(); i++) {
                assertArrayEquals(first.get(i).tokens(), again.get(i).tokens(), proposer + ": same seed, same output");
                assertTrue(first.get(i).tokens().length > 0);
                var u = first.get(i).usage();
                assertTrue(u.accepted() + u.rejected() <= u.proposed(), proposer + ": " + u);
                proposed += u.proposed();
                rejected += u.rejected();
            }
            assertTrue(proposed > 0, proposer + " proposed nothing while sampling");
            // An untrained draft is rejected often when the target samples.
            if (proposer.equals("draft")) assertTrue(rejected > 0, "no draft token was rejected while sampling");
        }
    }

    @Test
    void anUnknownProposerIsRefused() throws Exception {
        var failed = cluster.backend.generate(new GenerationSpec("default", "Hi", 5, SamplerSettings.greedy(), List.of(),
                "telepathy", "")).runWith(Sink.seq(), cluster.coordinator).toCompletableFuture();
        Throwable cause = TestCluster.cause(assertThrows(failed));
        GenerationRejected rejected = assertInstanceOf(GenerationRejected.class, cause);
        assertEquals(GenerationRejected.Code.INVALID_ARGUMENT, rejected.code());
        assertTrue(rejected.getMessage().contains("telepathy"), rejected.getMessage());
    }

    private static Throwable assertThrows(java.util.concurrent.CompletableFuture<?> future) {
        try {
            future.get(TestCluster.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            return e;
        }
        throw new AssertionError("expected a failure, got " + Arrays.toString(new Object[]{future.join()}));
    }
}
