package dev.tandem.worker;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.RowFlags;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A worker node in one local ActorSystem: describe, assign, run a two-stage route, release, drop. */
class WorkerNodeTest {

    private static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString(
            "tandem.worker.threads = 1").withFallback(ConfigFactory.load()));
    private static final Duration LOAD_TIMEOUT = Duration.ofSeconds(30);

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    @Test
    void runsAssignedRangesAsAPipelineAndFreesReleasedSequences() {
        WorkerSettings settings = WorkerSettings.fromConfig(testKit.system().settings().config());
        assertEquals(1, settings.threads());
        assertEquals("default", settings.specOf("stories15M").orElseThrow());
        ActorRef<WorkerNode.Command> node = testKit.spawn(WorkerNode.create(settings), WorkerNode.ACTOR_NAME);

        TestProbe<WorkerNode.WorkerDescription> describe = testKit.createTestProbe();
        node.tell(new WorkerNode.Describe(describe.getRef()));
        WorkerNode.WorkerDescription empty = describe.receiveMessage(LOAD_TIMEOUT);
        assertTrue(empty.speedGflops() > 0, "measured speed " + empty.speedGflops());
        assertTrue(empty.stages().isEmpty());

        TestProbe<WorkerNode.RangeAssigned> assigned = testKit.createTestProbe();
        node.tell(new WorkerNode.AssignRange("stories15M", 4, 9, 1, assigned.getRef()));
        assertFalse(assigned.receiveMessage(LOAD_TIMEOUT).ok());
        node.tell(new WorkerNode.AssignRange("unknown", 0, 1, 1, assigned.getRef()));
        assertFalse(assigned.receiveMessage(LOAD_TIMEOUT).ok());
        node.tell(new WorkerNode.AssignRange("stories15M", 0, 2, 1, assigned.getRef()));
        ActorRef<StageActor.Command> first = assigned.receiveMessage(LOAD_TIMEOUT).stage();
        node.tell(new WorkerNode.AssignRange("stories15M", 2, 6, 1, assigned.getRef()));
        ActorRef<StageActor.Command> last = assigned.receiveMessage(LOAD_TIMEOUT).stage();

        // Greedy decoding through [0,2) + [2,6) gives the single-process engine's tokens.
        int[] expected;
        int[] prompt;
        try (OpenedModel model = OpenedModel.open("default", null, ProgressListener.NONE);
             ParallelRunner runner = new ParallelRunner(1)) {
            LocalGenerator generator = new LocalGenerator(model.model().weights(), model.tokenizer(), runner);
            GenerationResult result = generator.generate(GenerationRequest.greedy("Once upon a time", 8), (t, id) -> {});
            expected = result.tokens();
            prompt = result.promptTokens();
        }
        TestProbe<StageActor.StepReply> replies = testKit.createTestProbe();
        List<ActorRef<StageActor.Command>> route = List.of(first, last);
        long seq = 42;
        int[] flags = new int[prompt.length];
        flags[prompt.length - 1] = RowFlags.WANT_LOGITS;
        long[] ids = new long[prompt.length];
        int[] positions = new int[prompt.length];
        for (int i = 0; i < prompt.length; i++) {
            ids[i] = seq;
            positions[i] = i;
        }
        first.tell(new StageActor.ForwardTokens(1, "stories15M", ids, positions, prompt, flags,
                List.of(new StageActor.SequenceSampling(seq, SamplerSettings.greedy())), List.of(), route, replies.getRef()));
        int[] got = new int[expected.length];
        for (int i = 0; i < expected.length; i++) {
            StageActor.StepVerified sampled = (StageActor.StepVerified) replies.receiveMessage(LOAD_TIMEOUT);
            got[i] = sampled.tokens()[0];
            if (i + 1 < expected.length) {
                first.tell(new StageActor.ForwardTokens(2 + i, "stories15M", new long[]{seq},
                        new int[]{prompt.length + i}, new int[]{got[i]}, new int[]{RowFlags.WANT_LOGITS}, List.of(),
                        List.of(), route, replies.getRef()));
            }
        }
        assertArrayEquals(expected, got);

        node.tell(new WorkerNode.Describe(describe.getRef()));
        WorkerNode.WorkerDescription busy = describe.receiveMessage(LOAD_TIMEOUT);
        assertEquals(2, busy.stages().size());
        assertTrue(busy.stages().stream().allMatch(s -> s.sequences() == 1 && s.kvBytesUsed() > 0));
        assertTrue(busy.freeMemoryBytes() < empty.freeMemoryBytes());

        first.tell(new StageActor.Release(new long[]{seq}));
        last.tell(new StageActor.Release(new long[]{seq}));
        node.tell(new WorkerNode.Describe(describe.getRef()));
        assertTrue(describe.receiveMessage(LOAD_TIMEOUT).stages().stream()
                .allMatch(s -> s.sequences() == 0 && s.kvBytesUsed() == 0));

        node.tell(new WorkerNode.DropRange("stories15M", 0, 2));
        node.tell(new WorkerNode.DropRange("stories15M", 2, 6));
        describe.awaitAssert(() -> {
            node.tell(new WorkerNode.Describe(describe.getRef()));
            assertTrue(describe.receiveMessage(LOAD_TIMEOUT).stages().isEmpty());
            return null;
        });
    }

    @Test
    void warmsUpNewStagesReportsHeldRangesAndCountsOverlappingRangesOnce() {
        WorkerSettings settings = WorkerSettings.fromConfig(testKit.system().settings().config());
        ActorRef<WorkerNode.Command> node = testKit.spawn(WorkerNode.create(settings), "second-worker");
        TestProbe<WorkerNode.WorkerDescription> describe = testKit.createTestProbe();
        TestProbe<WorkerNode.RangeAssigned> assigned = testKit.createTestProbe();
        node.tell(new WorkerNode.AssignRange("stories15M", 0, 3, 4, assigned.getRef()));
        ActorRef<StageActor.Command> wide = assigned.receiveMessage(LOAD_TIMEOUT).stage();
        node.tell(new WorkerNode.Describe(describe.getRef()));
        WorkerNode.WorkerDescription one = describe.receiveMessage(LOAD_TIMEOUT);
        assertEquals(List.of(new WorkerNode.HeldRange("stories15M", 0, 3, wide, 4)), one.ranges());

        // A sub-range of a mapped range costs no more memory (a rebalance holds both until the switch).
        node.tell(new WorkerNode.AssignRange("stories15M", 0, 2, 5, assigned.getRef()));
        ActorRef<StageActor.Command> narrow = assigned.receiveMessage(LOAD_TIMEOUT).stage();
        node.tell(new WorkerNode.AssignRange("stories15M", 0, 3, 6, assigned.getRef()));
        assertEquals(wide, assigned.receiveMessage(LOAD_TIMEOUT).stage());
        node.tell(new WorkerNode.Describe(describe.getRef()));
        WorkerNode.WorkerDescription two = describe.receiveMessage(LOAD_TIMEOUT);
        assertEquals(one.freeMemoryBytes(), two.freeMemoryBytes());
        assertEquals(one.memoryBudgetBytes(), two.memoryBudgetBytes());
        assertTrue(two.ranges().contains(new WorkerNode.HeldRange("stories15M", 0, 3, wide, 6)), two.ranges().toString());

        TestProbe<StageActor.WarmedUp> warmed = testKit.createTestProbe();
        narrow.tell(new StageActor.WarmUp(warmed.getRef()));
        assertTrue(warmed.receiveMessage(LOAD_TIMEOUT).ok());
        TestProbe<StageActor.StageStatus> status = testKit.createTestProbe();
        narrow.tell(new StageActor.GetStatus(status.getRef()));
        StageActor.StageStatus after = status.receiveMessage(LOAD_TIMEOUT);
        assertEquals(0, after.sequences(), "the warm-up's scratch sequence is freed");
        assertEquals(0.0, after.stepLatencyMs(), "warm-up steps are not serving steps");

        node.tell(new WorkerNode.DropRange("stories15M", 0, 2));
        node.tell(new WorkerNode.DropRange("stories15M", 0, 3));
        describe.awaitAssert(() -> {
            node.tell(new WorkerNode.Describe(describe.getRef()));
            assertTrue(describe.receiveMessage(LOAD_TIMEOUT).ranges().isEmpty());
            return null;
        });
    }

    @Test
    void aStepWhoseKvDoesNotFitTheWorkersBudgetFailsWithTheReasonAndServingResumesAfterARelease() {
        // Room for three KV pages of a six-layer stage: a 20-token prompt takes two.
        long pageBytes = 2L * 288 * Float.BYTES * 6 * dev.tandem.engine.llama.KvCache.PAGE_POSITIONS;
        WorkerSettings settings = WorkerSettings.fromConfig(testKit.system().settings().config()).withKvCacheMaxBytes(3 * pageBytes);
        ActorRef<WorkerNode.Command> node = testKit.spawn(WorkerNode.create(settings), "kv-limited-worker");
        TestProbe<WorkerNode.RangeAssigned> assigned = testKit.createTestProbe();
        node.tell(new WorkerNode.AssignRange("stories15M", 0, 6, 1, assigned.getRef()));
        ActorRef<StageActor.Command> stage = assigned.receiveMessage(LOAD_TIMEOUT).stage();
        TestProbe<StageActor.StepReply> replies = testKit.createTestProbe();

        stage.tell(prefill(1, 20, stage, replies.getRef()));
        assertTrue(replies.receiveMessage(LOAD_TIMEOUT) instanceof StageActor.StepVerified);
        stage.tell(prefill(2, 20, stage, replies.getRef()));
        StageActor.StepFailed full = (StageActor.StepFailed) replies.receiveMessage(LOAD_TIMEOUT);
        assertEquals(2, full.stepId());
        assertTrue(full.reason().contains("KV memory is full") && full.reason().contains("32 more cached positions"), full.reason());
        assertTrue(full.resourceExhausted(), "a full KV cache is a resource limit, not an internal error");
        TestProbe<StageActor.StageStatus> status = testKit.createTestProbe();
        stage.tell(new StageActor.GetStatus(status.getRef()));
        assertEquals(1, status.receiveMessage(LOAD_TIMEOUT).sequences(), "the refused step never reached the stage");

        stage.tell(new StageActor.Release(new long[]{1}));
        stage.tell(prefill(2, 20, stage, replies.getRef()));
        assertTrue(replies.receiveMessage(LOAD_TIMEOUT) instanceof StageActor.StepVerified);
        node.tell(new WorkerNode.DropRange("stories15M", 0, 6));
    }

    /** A prompt of {@code rows} tokens of sequence {@code seq} as step {@code seq}, through a one-stage route. */
    private static StageActor.ForwardTokens prefill(long seq, int rows, ActorRef<StageActor.Command> stage,
                                                    ActorRef<StageActor.StepReply> replyTo) {
        long[] ids = new long[rows];
        int[] positions = new int[rows];
        int[] tokens = new int[rows];
        int[] flags = new int[rows];
        for (int i = 0; i < rows; i++) {
            ids[i] = seq;
            positions[i] = i;
            tokens[i] = 100 + i;
        }
        flags[rows - 1] = RowFlags.WANT_LOGITS;
        return new StageActor.ForwardTokens(seq, "stories15M", ids, positions, tokens, flags,
                List.of(new StageActor.SequenceSampling(seq, SamplerSettings.greedy())), List.of(), List.of(stage), replyTo);
    }
}
