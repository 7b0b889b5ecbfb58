package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.stream.KillSwitches;
import akka.stream.UniqueKillSwitch;
import akka.stream.javadsl.Keep;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.SinkQueueWithCancel;
import akka.actor.testkit.typed.javadsl.TestProbe;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.StageStatus;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.StageActor;
import dev.tandem.worker.WorkerNode;
import dev.tandem.worker.WorkerSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Akka Cluster inside one JVM: a coordinator system and two worker systems on loopback with Artery,
 * so every step goes through Kryo and Arrow serialization. Each worker's memory budget holds exactly three
 * of stories15M's six layers (plus the embedding or the head), so the plan is [0,3) + [3,6). Prompts are prefilled in
 * chunks of three rows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipelineClusterTest {

    private static final long RESULT_TIMEOUT_SECONDS = 60;
    private static final int MAX_QUEUED = 4;
    private static final int MAX_BATCH = 16;
    private static final int PREFILL_CHUNK = 3;

    /** Local generation only for its result: nothing to print. */
    private static final GenerationListener SILENT = (text, tokenId) -> {};

    private ActorSystem<Void> coordinator;
    private final List<ActorSystem<Void>> workers = new ArrayList<>();
    private ClusterInferenceBackend backend;
    private OpenedModel local;
    private ParallelRunner localRunner;
    private LocalGenerator generator;

    @BeforeAll
    void startCluster() throws Exception {
        local = OpenedModel.open(OpenedModel.DEFAULT_SPEC, null, ProgressListener.NONE);
        localRunner = new ParallelRunner(1);
        generator = new LocalGenerator(local.model().weights(), local.tokenizer(), localRunner);
        ModelFootprint footprint = ModelFootprint.of(local.model().weights());
        // Room for the embedding (or head) and three and a half layers: three layers per worker.
        long workerBudget = footprint.embeddingBytes() + 3 * footprint.layerBytes() + footprint.layerBytes() / 2;

        Config common = ConfigFactory.parseString("""
                akka.actor.provider = cluster
                akka.remote.artery.canonical.hostname = 127.0.0.1
                akka.remote.artery.canonical.port = 0
                akka.cluster.downing-provider-class = "akka.cluster.sbr.SplitBrainResolverProvider"
                akka.cluster.jmx.multi-mbeans-in-same-jvm = on
                akka.loglevel = INFO
                akka.loggers = ["akka.event.slf4j.Slf4jLogger"]
                akka.logging-filter = "akka.event.slf4j.Slf4jLoggingFilter"
                akka.log-dead-letters = off
                akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off
                akka.cluster.typed.receptionist.distributed-data.gossip-interval = 200ms
                tandem.worker.threads = 1
                tandem.coordinator.min-workers = 2
                tandem.coordinator.route-wait = 60s
                tandem.coordinator.max-queued = %d
                tandem.coordinator.max-batch-sequences = %d
                # Chunked prefill with chunks of 3 rows: every prompt here takes several steps, so every test below
                # also checks that chunking changes nothing (against the single-process engine, which prefills whole).
                tandem.coordinator.prefill-chunk-rows = %d
                """.formatted(MAX_QUEUED, MAX_BATCH, PREFILL_CHUNK)).withFallback(ConfigFactory.load());

        coordinator = ActorSystem.create(Behaviors.empty(), "tandem",
                ConfigFactory.parseString("akka.cluster.roles = [coordinator]").withFallback(common));
        Cluster.get(coordinator).manager().tell(Join.create(Cluster.get(coordinator).selfMember().address()));
        backend = ClusterInferenceBackend.start(coordinator, CoordinatorSettings.fromConfig(coordinator.settings().config()));

        Config workerConfig = ConfigFactory.parseString("akka.cluster.roles = [worker]\ntandem.worker.memory-budget = "
                + workerBudget).withFallback(common);
        WorkerSettings workerSettings = WorkerSettings.fromConfig(workerConfig);
        for (int i = 0; i < 2; i++) {
            ActorSystem<Void> worker = ActorSystem.create(Behaviors.setup(context -> {
                context.spawn(WorkerNode.create(workerSettings), WorkerNode.ACTOR_NAME);
                return Behaviors.empty();
            }), "tandem", workerConfig);
            Cluster.get(worker).manager().tell(Join.create(Cluster.get(coordinator).selfMember().address()));
            workers.add(worker);
        }

        TestCluster.await("the pipeline is planned", () -> backend.model("default").orElseThrow().ready());
    }

    @AfterAll
    void stopCluster() throws Exception {
        for (ActorSystem<Void> w : workers) w.terminate();
        if (coordinator != null) coordinator.terminate();
        for (ActorSystem<Void> w : workers) w.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (coordinator != null) coordinator.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        if (backend != null) backend.close();
        if (localRunner != null) localRunner.close();
        if (local != null) local.close();
    }

    @Test
    @Order(1)
    void theModelIsSplitThreeAndThreeOverBothWorkers() throws Exception {
        List<PipelinePlan> plans = get(backend.plans());
        assertEquals(1, plans.size());
        PipelinePlan plan = plans.getFirst();
        assertEquals(2, plan.stages().size());
        assertEquals(List.of(0, 3), plan.stages().stream().map(PipelinePlan.PlannedStage::fromLayer).toList());
        assertEquals(List.of(3, 6), plan.stages().stream().map(PipelinePlan.PlannedStage::toLayer).toList());
        assertTrue(!plan.stages().get(0).workerAddress().equals(plan.stages().get(1).workerAddress()));
    }

    @ParameterizedTest
    @Order(2)
    @CsvSource({
            "Once upon a time, greedy_once_upon_a_time.txt, EOS",
            "Lily and Ben went to the park, greedy_lily_and_ben.txt, LENGTH"
    })
    void greedyGenerationEqualsTheSingleProcessEngine(String prompt, String referenceFile, FinishReason finish)
            throws Exception {
        List<GenerationEvent> events = get(backend.generate(greedy(prompt, 10_000)).runWith(Sink.seq(), coordinator));
        int[] promptTokens = local.tokenizer().encode(prompt, true, false);
        String printed = new String(generator.decode(promptTokens), StandardCharsets.UTF_8) + text(events) + "\n";
        assertEquals(reference(referenceFile), printed);
        GenerationEvent.Finished finished = finished(events);
        assertEquals(finish, finished.reason());
        assertEquals(promptTokens.length, finished.usage().promptTokens());
        if (finish == FinishReason.LENGTH) assertEquals(257, promptTokens.length + finished.usage().completionTokens());
        assertEquals(finished.usage().completionTokens() - 1, finished.usage().steps());
        assertEquals("none", finished.usage().proposer());
    }

    @Test
    @Order(3)
    void sixteenConcurrentSequencesEachEqualTheirSoloText() throws Exception {
        String[] subjects = {"a cat", "a dog", "Tom", "Sue", "a bird", "a fish", "Max", "Anna", "a frog", "Ben",
                "a little boy", "a big bear", "Mia", "a duck", "the sun", "an old tree"};
        List<CompletionStage<List<GenerationEvent>>> runs = new ArrayList<>();
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < subjects.length; i++) {
            String prompt = "Once upon a time, " + subjects[i] + (i % 2 == 0 ? " wanted to" : " saw");
            prompts.add(prompt);
            runs.add(backend.generate(greedy(prompt, 40 + i)).runWith(Sink.seq(), coordinator));
        }
        for (int i = 0; i < runs.size(); i++) {
            List<GenerationEvent> events = get(runs.get(i));
            GenerationResult solo = generator.generate(GenerationRequest.greedy(prompts.get(i), 40 + i),
                    SILENT);
            assertEquals(new String(solo.text(), StandardCharsets.UTF_8), text(events), "prompt " + prompts.get(i));
            assertEquals(solo.finishReason(), finished(events).reason());
            assertEquals(solo.tokens().length, finished(events).usage().completionTokens());
        }
        awaitNoKv();
    }

    @Test
    @Order(3)
    void aSampledSequencePrefilledInChunksEqualsTheSingleProcessEngineForItsSeed() throws Exception {
        String prompt = "Lily and Ben went to the park with their mom and their little dog";
        assertTrue(local.tokenizer().encode(prompt, true, false).length > 4 * PREFILL_CHUNK, "a prompt of several chunks");
        SamplerSettings sampling = new SamplerSettings(0.9f, 0, 0.9f, 77);
        List<GenerationEvent> events = get(backend.generate(new GenerationSpec("default", prompt, 60, sampling, List.of(), "", ""))
                .runWith(Sink.seq(), coordinator));
        GenerationResult solo = generator.generate(new GenerationRequest(prompt, 60, sampling, List.of()), SILENT);
        assertEquals(new String(solo.text(), StandardCharsets.UTF_8), text(events));
        assertEquals(solo.tokens().length, finished(events).usage().completionTokens());
        assertEquals(finished(events).usage().completionTokens() - 1, finished(events).usage().steps(),
                "prefill chunks are not counted as decoding steps");
        awaitNoKv();
    }

    @Test
    @Order(4)
    void aStopStringEndsTheStreamBeforeItAndFreesTheSequence() throws Exception {
        GenerationSpec spec = new GenerationSpec("default", "Once upon a time", 200, SamplerSettings.greedy(),
                List.of("Lily"), "", "");
        List<GenerationEvent> events = get(backend.generate(spec).runWith(Sink.seq(), coordinator));
        // The reference continues ", there was a little girl named Lily."
        assertEquals(", there was a little girl named ", text(events));
        assertEquals(FinishReason.STOP, finished(events).reason());
        awaitNoKv();
    }

    @Test
    @Order(4)
    void cancellingAStreamFreesItsKvOnBothWorkersAndServingGoesOn() throws Exception {
        SinkQueueWithCancel<GenerationEvent> stream = backend.generate(greedy("Once upon a time", 10_000))
                .runWith(Sink.queue(), coordinator);
        for (int i = 0; i < 3; i++) {
            Optional<GenerationEvent> event = get(stream.pull());
            assertInstanceOf(GenerationEvent.TextDelta.class, event.orElseThrow());
        }
        List<StageStatus> during = get(backend.stageStatuses());
        assertEquals(2, during.size());
        for (StageStatus s : during) {
            assertEquals(1, s.sequences(), "sequences on " + s);
            assertTrue(s.kvBytesUsed() > 0, "KV in use on " + s);
        }
        stream.cancel();
        awaitNoKv();

        List<GenerationEvent> next = get(backend.generate(greedy("Lily and Ben", 30)).runWith(Sink.seq(), coordinator));
        GenerationResult solo = generator.generate(GenerationRequest.greedy("Lily and Ben", 30), SILENT);
        assertEquals(new String(solo.text(), StandardCharsets.UTF_8), text(next));
    }

    @Test
    @Order(5)
    void aFullQueueRefusesWithResourceExhausted() throws Exception {
        int extra = 3;
        List<UniqueKillSwitch> switches = new ArrayList<>();
        List<CompletionStage<List<GenerationEvent>>> runs = new ArrayList<>();
        for (int i = 0; i < MAX_BATCH + MAX_QUEUED + extra; i++) {
            var materialized = backend.generate(greedy("Once upon a time, Tom had " + i + " apples", 200))
                    .viaMat(KillSwitches.single(), Keep.right())
                    .toMat(Sink.seq(), Keep.both())
                    .run(coordinator);
            switches.add(materialized.first());
            runs.add(materialized.second());
        }
        // Nothing finishes while the requests arrive (200 tokens each), so exactly the extra ones are refused.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<Throwable> refusals;
        do {
            Thread.sleep(50);
            refusals = runs.stream().map(CompletionStage::toCompletableFuture)
                    .filter(java.util.concurrent.CompletableFuture::isCompletedExceptionally)
                    .map(f -> f.handle((ok, failure) -> failure).join())
                    .toList();
        } while (refusals.size() < extra && System.nanoTime() < deadline);
        for (Throwable failure : refusals) {
            GenerationRejected rejected = assertInstanceOf(GenerationRejected.class,
                    failure instanceof java.util.concurrent.CompletionException ? failure.getCause() : failure);
            assertEquals(GenerationRejected.Code.RESOURCE_EXHAUSTED, rejected.code());
            assertTrue(rejected.getMessage().contains("busy"), rejected.getMessage());
        }
        int refused = refusals.size();
        assertEquals(extra, refused);
        switches.forEach(UniqueKillSwitch::shutdown);
        awaitNoKv();
    }

    @Test
    @Order(6)
    void badRequestsAreRefusedWithTheirStatus() throws Exception {
        var unknown = backend.generate(new GenerationSpec("no-such-model", "Hi", 5, SamplerSettings.greedy(),
                List.of(), "", "")).runWith(Sink.seq(), coordinator).toCompletableFuture();
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> unknown.get(10, TimeUnit.SECONDS));
        assertEquals(GenerationRejected.Code.NOT_FOUND, assertInstanceOf(GenerationRejected.class, e.getCause()).code());

        String longPrompt = "the cat sat on the mat and ".repeat(60);
        var tooLong = backend.generate(greedy(longPrompt, 5)).runWith(Sink.seq(), coordinator).toCompletableFuture();
        e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> tooLong.get(10, TimeUnit.SECONDS));
        GenerationRejected rejected = assertInstanceOf(GenerationRejected.class, e.getCause());
        assertEquals(GenerationRejected.Code.INVALID_ARGUMENT, rejected.code());
        assertTrue(rejected.getMessage().contains("256"), rejected.getMessage());
    }

    @Test
    @Order(7)
    void stagesAnswerBadInputWithAnErrorAndKeepServing() throws Exception {
        PipelinePlan plan = get(backend.plans()).getFirst();
        TestProbe<StageActor.StepReply> replies = TestProbe.create(coordinator);
        var first = plan.stages().get(0).stage();
        var second = plan.stages().get(1).stage();
        int dim = local.config().dim();

        // Hidden states of the wrong width.
        second.tell(new StageActor.ForwardHidden(ActivationBatch.of("stories15M", 901, dim - 1, new long[]{7},
                new int[]{0}, new float[dim - 1]), List.of(), List.of(), plan.route(), 1, replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        // An unknown sequence continuing at position 5 (a gap).
        first.tell(new StageActor.ForwardTokens(902, "stories15M", new long[]{8}, new int[]{5}, new int[]{1},
                new int[]{RowFlags.WANT_LOGITS}, List.of(), List.of(), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        // A position beyond the context, and a token outside the vocabulary.
        first.tell(new StageActor.ForwardTokens(903, "stories15M", new long[]{9}, new int[]{0}, new int[]{-4},
                new int[]{RowFlags.WANT_LOGITS}, List.of(), List.of(), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        // Token rows sent to the second stage.
        second.tell(new StageActor.ForwardTokens(904, "stories15M", new long[]{9}, new int[]{0}, new int[]{1},
                new int[]{RowFlags.WANT_LOGITS}, List.of(), List.of(), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        // Drafts that do not match the rows: two logit rows but a draft of two tokens; a draft token outside the
        // vocabulary; a sampled draft token whose q is zero. The last stage refuses each before touching its cache.
        var sampling = List.of(new StageActor.SequenceSampling(10, SamplerSettings.greedy()));
        int[] two = {RowFlags.WANT_LOGITS | RowFlags.PREFILL, RowFlags.WANT_LOGITS | RowFlags.DRAFT};
        first.tell(new StageActor.ForwardTokens(905, "stories15M", new long[]{10, 10}, new int[]{0, 1}, new int[]{1, 9038},
                two, sampling, List.of(new StageActor.SequenceDraft(10, new int[]{9038, 263}, new int[]{0, 0, 0},
                new int[0], new float[0])), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        first.tell(new StageActor.ForwardTokens(906, "stories15M", new long[]{10, 10}, new int[]{0, 1}, new int[]{1, 9038},
                two, sampling, List.of(new StageActor.SequenceDraft(10, new int[]{32000}, new int[]{0, 0},
                new int[0], new float[0])), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        first.tell(new StageActor.ForwardTokens(907, "stories15M", new long[]{10, 10}, new int[]{0, 1}, new int[]{1, 9038},
                two, sampling, List.of(new StageActor.SequenceDraft(10, new int[]{9038}, new int[]{0, 1},
                new int[]{263}, new float[]{1f})), plan.route(), replies.getRef()));
        assertInstanceOf(StageActor.StepFailed.class, replies.receiveMessage());
        // The first stage wrote sequence 10's KV before the last one refused; a release clears it like any.
        for (var stage : plan.route()) stage.tell(new StageActor.Release(new long[]{10}));
        awaitNoKv();

        List<GenerationEvent> events = get(backend.generate(greedy("Once upon a time", 20)).runWith(Sink.seq(), coordinator));
        assertEquals(FinishReason.LENGTH, finished(events).reason());
    }

    private void awaitNoKv() throws Exception {
        TestCluster.await("no KV cache is in use", () -> backend.stageStatuses().toCompletableFuture().join().stream()
                .allMatch(s -> s.kvBytesUsed() == 0 && s.sequences() == 0));
    }

    private static GenerationSpec greedy(String prompt, int maxNewTokens) {
        return new GenerationSpec("default", prompt, maxNewTokens, SamplerSettings.greedy(), List.of(), "", "");
    }

    private static String text(List<GenerationEvent> events) {
        StringBuilder out = new StringBuilder();
        for (GenerationEvent e : events) {
            if (e instanceof GenerationEvent.TextDelta delta) out.append(delta.text());
        }
        return out.toString();
    }

    private static GenerationEvent.Finished finished(List<GenerationEvent> events) {
        return assertInstanceOf(GenerationEvent.Finished.class, events.getLast());
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(RESULT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    private static String reference(String name) throws IOException {
        try (InputStream in = PipelineClusterTest.class.getResourceAsStream("/reference/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
