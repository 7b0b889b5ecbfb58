package dev.tandem.coordinator;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import dev.tandem.coordinator.placement.Balancer;
import dev.tandem.coordinator.placement.ChangeProgress;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.coordinator.placement.PlanChange;
import dev.tandem.coordinator.placement.PlanChanges;
import dev.tandem.coordinator.placement.PlacementManager;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.ArrowActivationSerializer;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.protocol.serialization.KryoSerializer;
import dev.tandem.worker.StageActor;
import dev.tandem.worker.WorkerNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.reflect.RecordComponent;
import java.util.List;
import java.util.Objects;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Every message the worker and coordinator modules send between nodes survives Akka serialization intact. */
class MessageSerializationTest {

    private static final ActorTestKit testKit = ActorTestKit.create();

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    @Test
    void everyInternalMessageRoundTrips() {
        TestProbe<StageActor.Command> stage = testKit.createTestProbe();
        TestProbe<StageActor.Command> nextStage = testKit.createTestProbe();
        TestProbe<StageActor.StepReply> scheduler = testKit.createTestProbe();
        TestProbe<WorkerNode.Command> node = testKit.createTestProbe();
        List<akka.actor.typed.ActorRef<StageActor.Command>> route = List.of(stage.getRef(), nextStage.getRef());
        List<StageActor.SequenceSampling> sampling = List.of(
                new StageActor.SequenceSampling(11, SamplerSettings.greedy()),
                new StageActor.SequenceSampling(12, new SamplerSettings(0.8f, 40, 0.9f, 1234), "stories", new int[]{1, 9038, 263}));
        List<StageActor.SequenceDraft> drafts = List.of(
                new StageActor.SequenceDraft(11, new int[]{263, 931}, new int[]{0, 0, 0}, new int[0], new float[0]),
                new StageActor.SequenceDraft(12, new int[]{5, 6}, new int[]{0, 2, 3}, new int[]{5, 9, 6}, new float[]{0.75f, 0.25f, 1f}));
        StageActor.StageStatus status = new StageActor.StageStatus("akka://tandem@127.0.0.1:2552", "stories15M", 0, 3, 4096, 2, 3.5);
        PipelinePlan plan = new PipelinePlan("stories15M", 6, 3, List.of(
                new PipelinePlan.PlannedStage("akka://tandem@127.0.0.1:1", 0, 3, stage.getRef()),
                new PipelinePlan.PlannedStage("akka://tandem@127.0.0.1:2", 3, 6, nextStage.getRef())));

        List<Object> kryoMessages = List.of(
                new StageActor.ForwardTokens(5, "stories15M", new long[]{11, 11, 12}, new int[]{0, 1, 7},
                        new int[]{1, 9038, 263}, new int[]{RowFlags.PREFILL, RowFlags.WANT_LOGITS, RowFlags.WANT_LOGITS},
                        sampling, drafts, route, scheduler.getRef()),
                new StageActor.Release(new long[]{11, 12}),
                new StageActor.GetStatus(testKit.<StageActor.StageStatus>createTestProbe().getRef()),
                new StageActor.StepVerified(5, new long[]{11, 12}, new int[]{2, 1}, new int[]{263, 2501, 1}),
                new StageActor.StepFailed(6, "stories15M[0,3)@here", "bad dim"),
                status,
                new WorkerNode.Describe(testKit.<WorkerNode.WorkerDescription>createTestProbe().getRef()),
                new WorkerNode.AssignRange("stories15M", 0, 3, 7, testKit.<WorkerNode.RangeAssigned>createTestProbe().getRef()),
                new WorkerNode.DropRange("stories15M", 0, 3),
                new WorkerNode.ConnectDirect("akka://tandem@127.0.0.1:2551"),
                new WorkerNode.WorkerDescription(node.getRef(), "akka://tandem@127.0.0.1:2552", 1L << 30, 1L << 31, 4, 12.5,
                        List.of(status), List.of(new WorkerNode.HeldRange("stories15M", 0, 3, stage.getRef(), 7))),
                new StageActor.WarmUp(testKit.<StageActor.WarmedUp>createTestProbe().getRef()),
                new StageActor.WarmedUp("stories15M[0,3)@here", 120, ""),
                new WorkerNode.RangeAssigned("stories15M", 0, 3, stage.getRef(), ""),
                new WorkerNode.RangeAssigned("stories15M", 0, 9, null, "layers [0, 9) are not a range"),
                plan,
                new PlacementManager.SubscribePlans("stories15M", testKit.<PipelinePlan>createTestProbe().getRef()),
                new PlacementManager.PlanAdopted("stories15M", 4, testKit.<PipelinePlan>createTestProbe().getRef()),
                new PlacementManager.ChangePlan(new PlanChange.MoveRange("stories15M", 3, 6, "akka://tandem@127.0.0.1:3"),
                        testKit.<ChangeProgress>createTestProbe().getRef()),
                new PlacementManager.ChangePlan(new PlanChange.AutoRebalance(), testKit.<ChangeProgress>createTestProbe().getRef()),
                new PlacementManager.ChangePlan(new PlanChange.DrainNode("akka://tandem@127.0.0.1:3", true),
                        testKit.<ChangeProgress>createTestProbe().getRef()),
                new PlacementManager.ProposePlans(testKit.<PlacementManager.Proposals>createTestProbe().getRef()),
                new PlacementManager.Proposals(List.of(new PlanChanges.Proposal("stories15M", List.of(
                        new Balancer.Assignment("akka://tandem@127.0.0.1:1", 0, 2),
                        new Balancer.Assignment("akka://tandem@127.0.0.1:2", 2, 6)), 3.0, 2.0, 0.5, true))),
                new ChangeProgress.Progress("LOADING", "loading", 0.2),
                new ChangeProgress.Completed("done"),
                new ChangeProgress.Refused("NOT_FOUND", "no worker at x"),
                new PlacementManager.GetPlans(testKit.<PlacementManager.Plans>createTestProbe().getRef()),
                new PlacementManager.Plans(List.of(plan)));
        for (Object message : kryoMessages) assertRoundTrip(message, KryoSerializer.IDENTIFIER);

        float[] hidden = new float[2 * 4];
        for (int i = 0; i < hidden.length; i++) hidden[i] = i * 0.25f - 1;
        hidden[3] = -0.0f;
        ActivationBatch batch = new ActivationBatch("stories15M", 5, 4, new long[]{11, 12}, new int[]{2, 7},
                new int[]{RowFlags.NONE, RowFlags.WANT_LOGITS}, hidden);
        assertRoundTrip(new StageActor.ForwardHidden(batch, sampling, drafts, route, 1, scheduler.getRef()),
                ArrowActivationSerializer.IDENTIFIER);
    }

    private static void assertRoundTrip(Object message, int expectedSerializer) {
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(testKit.system()));
        Serializer serializer = serialization.findSerializerFor(message);
        assertEquals(expectedSerializer, serializer.identifier(), "serializer of " + message.getClass().getName());
        byte[] bytes = serialization.serialize(message).get();
        Object back = serialization.deserialize(bytes, serializer.identifier(),
                Serializers.manifestFor(serializer, message)).get();
        assertDeepEquals(message, back, message.getClass().getSimpleName());
    }

    /** Records compared component by component, arrays by content (records with arrays have identity equals). */
    private static void assertDeepEquals(Object expected, Object actual, String where) {
        if (expected == null || actual == null) {
            assertEquals(expected, actual, where);
            return;
        }
        assertEquals(expected.getClass(), actual.getClass(), where);
        if (expected.getClass().isArray()) {
            assertTrue(Objects.deepEquals(expected, actual), where);
        } else if (expected.getClass().isRecord() && !(expected instanceof ActivationBatch)) {
            for (RecordComponent c : expected.getClass().getRecordComponents()) {
                try {
                    assertDeepEquals(c.getAccessor().invoke(expected), c.getAccessor().invoke(actual), where + "." + c.getName());
                } catch (ReflectiveOperationException e) {
                    fail(e);
                }
            }
        } else if (expected instanceof List<?> list) {
            List<?> other = (List<?>) actual;
            assertEquals(list.size(), other.size(), where);
            for (int i = 0; i < list.size(); i++) assertDeepEquals(list.get(i), other.get(i), where + "[" + i + "]");
        } else {
            assertEquals(expected, actual, where);
        }
    }

}
