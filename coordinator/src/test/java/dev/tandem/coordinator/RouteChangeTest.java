package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import akka.cluster.typed.Cluster;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.ClusterStatus;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.LayerRange;
import dev.tandem.coordinator.api.ModelPlan;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.api.RebalanceRequest;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.protocol.metrics.PrometheusText;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

import static dev.tandem.coordinator.TestCluster.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live route changes on a coordinator and three workers: A and B run [0,3) + [3,6), C joins as a standby
 * (the join rule is off here). Refused changes change nothing; a range moves under load with every greedy
 * stream equal to its undisturbed text; a worker drains under load and leaves; the cluster keeps serving.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RouteChangeTest {

    private static final int STREAMS = 8;
    private static final int MAX_NEW_TOKENS = 240;
    private static final String[] SUBJECTS = {"a cat", "a dog", "Tom", "Sue", "a bird", "Max", "Anna", "a frog"};

    private TestCluster cluster;
    private ActorSystem<Void> a;
    private ActorSystem<Void> b;
    private ActorSystem<Void> c;
    private final List<String> prompts = new ArrayList<>();
    private final List<String> expected = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        // One compute thread per stage and long stories, so that the streams are still generating when a move or a
        // drain switches (both run in well under a second here): with two threads and 120 tokens the eight streams
        // finished first once the kernels got faster, and the test saw no replay.
        cluster = new TestCluster("""
                tandem.coordinator.min-workers = 2
                tandem.coordinator.rebalance.on-join = off
                tandem.worker.threads = 1
                # Replays (prompt + generated tokens) go in chunked prefills, so a switch also lands between chunks.
                tandem.coordinator.prefill-chunk-rows = 16
                # The route warm-up (its own steps for a few seconds before a switch, JoinRebalanceTest) would let the
                # streams finish before the switch this test wants them to run through.
                tandem.coordinator.rebalance.warm-up.steps = 0
                """);
        long threeLayers = cluster.budgetForLayers(3);
        ActorSystem<Void> first = cluster.addWorker(threeLayers, "");
        ActorSystem<Void> second = cluster.addWorker(threeLayers, "");
        cluster.awaitReady();
        // Placement orders workers by address: a runs [0,3), b runs [3,6).
        boolean firstLeads = cluster.plan().stages().getFirst().workerAddress().equals(TestCluster.address(first));
        a = firstLeads ? first : second;
        b = firstLeads ? second : first;
        c = cluster.addWorker(threeLayers, "");
        cluster.awaitUp(4);
        for (String subject : SUBJECTS) {
            String prompt = "Once upon a time, " + subject + " found a";
            prompts.add(prompt);
            expected.add(cluster.soloText(prompt, MAX_NEW_TOKENS));
        }
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    private String addr(ActorSystem<?> s) { return TestCluster.address(s); }

    @Test
    @Order(1)
    void theFirstPlanSplitsOverTheFirstTwoWorkersAndTheThirdIsAStandby() throws Exception {
        assertEquals(List.of("0-3@" + addr(a), "3-6@" + addr(b)), cluster.planRanges());
        ClusterStatus status = get(cluster.backend.status());
        assertEquals(4, status.nodes().size());
        ClusterStatus.NodeStatus nodeA = node(status, addr(a));
        assertEquals(List.of(new LayerRange("stories15M", 0, 3)), nodeA.ranges());
        assertTrue(nodeA.reachable());
        assertEquals("Up", nodeA.memberStatus());
        assertEquals(List.of("worker"), nodeA.roles());
        assertTrue(nodeA.memoryUsedBytes() > 0 && nodeA.memoryFreeBytes() > 0, nodeA.toString());
        assertTrue(node(status, addr(c)).ranges().isEmpty());
        assertEquals(List.of("coordinator"), node(status, addr(cluster.coordinator)).roles());
        assertTrue(status.drafts().isEmpty());
    }

    @Test
    @Order(2)
    void impossibleChangesAreRefusedUpFrontAndChangeNothing() throws Exception {
        PipelinePlan before = cluster.plan();
        AdminException e = cluster.refusal(cluster.backend.rebalance(new RebalanceRequest.Move("stories15M", 3, 6,
                "akka://tandem@127.0.0.1:1")));
        assertEquals(AdminException.Code.NOT_FOUND, e.code());
        assertTrue(e.getMessage().contains("no worker at"), e.getMessage());

        e = cluster.refusal(cluster.backend.rebalance(new RebalanceRequest.Move("no-such-model", 3, 6, addr(c))));
        assertEquals(AdminException.Code.NOT_FOUND, e.code());
        assertTrue(e.getMessage().contains("unknown model"), e.getMessage());

        e = cluster.refusal(cluster.backend.rebalance(RebalanceRequest.parseMove("stories15M:4-9", addr(c))));
        assertEquals(AdminException.Code.INVALID_ARGUMENT, e.code());

        // The whole model does not fit in C's memory.
        e = cluster.refusal(cluster.backend.rebalance(RebalanceRequest.parseMove("default:0-6", addr(c))));
        assertEquals(AdminException.Code.FAILED_PRECONDITION, e.code());
        assertTrue(e.getMessage().contains("not enough memory on " + addr(c)), e.getMessage());

        e = cluster.refusal(cluster.backend.rebalance(new RebalanceRequest.Move("stories15M", 3, 6, addr(b))));
        assertEquals(AdminException.Code.FAILED_PRECONDITION, e.code());

        e = cluster.refusal(cluster.backend.drain("akka://tandem@127.0.0.1:1", false));
        assertEquals(AdminException.Code.NOT_FOUND, e.code());
        e = cluster.refusal(cluster.backend.drain("not an address", false));
        assertEquals(AdminException.Code.INVALID_ARGUMENT, e.code());

        PipelinePlan after = cluster.plan();
        assertEquals(before, after);
        assertTrue(node(get(cluster.backend.status()), addr(c)).ranges().isEmpty(), "nothing was loaded on C");
    }

    @Test
    @Order(3)
    void movingARangeWhileEightStreamsGenerateKeepsEveryTextExact() throws Exception {
        long versionBefore = cluster.plan().version();
        List<CompletionStage<List<GenerationEvent>>> runs = startStreams();
        List<RebalanceProgress> progress = cluster.run(cluster.backend.rebalance(
                RebalanceRequest.parseMove("stories15M:3-6", addr(c))));
        assertPhases(progress, RebalanceProgress.Phase.LOADING, RebalanceProgress.Phase.WARMING,
                RebalanceProgress.Phase.SWITCHING, RebalanceProgress.Phase.DRAINING, RebalanceProgress.Phase.DONE);
        assertStreamsExact(runs);
        assertTrue(replays("rebalance") > 0, "the move happened while sequences were generating");

        assertEquals(List.of("0-3@" + addr(a), "3-6@" + addr(c)), cluster.planRanges());
        assertTrue(cluster.plan().version() > versionBefore);
        List<ModelPlan> plans = get(cluster.backend.plan(false));
        assertEquals(addr(c), plans.getFirst().stages().get(1).node());
        TestCluster.await("B dropped its old stage", () -> {
            try {
                return node(get(cluster.backend.status()), addr(b)).ranges().isEmpty();
            } catch (Exception ex) {
                return false;
            }
        });
    }

    @Test
    @Order(4)
    void theBalancerProposesAnEvenSplitAndAutoAppliesItWhenTheGainIsAboveTheThreshold() throws Exception {
        List<ModelPlan> proposed = get(cluster.backend.plan(true));
        ModelPlan p = proposed.getFirst();
        // Three equal workers, 3+3 now: 2+2+2 makes the slowest stage 1.5x faster.
        assertEquals(3, p.stages().size(), p.toString());
        assertEquals(0.5, p.predictedGain(), 1e-9);
        assertTrue(p.wouldApply());
        assertEquals(0, p.version());
    }

    @Test
    @Order(5)
    void drainingAWorkerUnderLoadMovesItsRangesThenItLeavesAndServingGoesOn() throws Exception {
        List<CompletionStage<List<GenerationEvent>>> runs = startStreams();
        List<RebalanceProgress> progress = cluster.run(cluster.backend.drain(addr(a), true));
        assertPhases(progress, RebalanceProgress.Phase.LOADING, RebalanceProgress.Phase.SWITCHING,
                RebalanceProgress.Phase.LEAVING, RebalanceProgress.Phase.DONE);
        assertStreamsExact(runs);
        // The idle standby B took A's range.
        assertEquals(List.of("0-3@" + addr(b), "3-6@" + addr(c)), cluster.planRanges());
        TestCluster.await("A left the cluster", () -> Cluster.get(a).isTerminated()
                || Cluster.get(cluster.coordinator).state().getMembers().spliterator().estimateSize() == 3);
        cluster.awaitUp(3);
        List<GenerationEvent> after = get(cluster.generate(prompts.getFirst(), 30));
        assertEquals(cluster.soloText(prompts.getFirst(), 30), TestCluster.text(after));
    }

    @Test
    @Order(6)
    void theMetricsAreValidPrometheusTextWithTheServingSeries() {
        String coordinatorText = NodeMetrics.of(cluster.coordinator).scrape();
        PrometheusText.parse(coordinatorText);
        for (String series : List.of("tandem_requests_total", "tandem_prompt_tokens_total", "tandem_completion_tokens_total",
                "tandem_time_to_first_token_ms_bucket", "tandem_inter_token_latency_ms_bucket", "tandem_batch_sequences_bucket",
                "tandem_queue_depth", "tandem_active_sequences", "tandem_rebalance_events_total",
                "tandem_rebalance_duration_ms_bucket", "tandem_sequence_replays_total")) {
            assertTrue(coordinatorText.contains(series), series + " in\n" + coordinatorText);
        }
        assertTrue(coordinatorText.contains("tandem_rebalance_events_total{kind=\"move\",outcome=\"done\"} 1"), coordinatorText);
        assertTrue(coordinatorText.contains("tandem_rebalance_events_total{kind=\"move\",outcome=\"refused\"}"), coordinatorText);
        String workerText = NodeMetrics.of(c).scrape();
        PrometheusText.parse(workerText);
        for (String series : List.of("tandem_stage_step_latency_ms_bucket", "tandem_stage_kv_bytes", "tandem_stage_sequences")) {
            assertTrue(workerText.contains(series), series + " in\n" + workerText);
        }
        assertTrue(workerText.contains("layers=\"3-6\""), workerText);
    }

    private List<CompletionStage<List<GenerationEvent>>> startStreams() throws Exception {
        List<CompletionStage<List<GenerationEvent>>> runs = new ArrayList<>();
        for (String prompt : prompts) runs.add(cluster.generate(prompt, MAX_NEW_TOKENS));
        TestCluster.await("all streams decode", () -> cluster.sequencesOnFirstStage() == STREAMS);
        return runs;
    }

    private void assertStreamsExact(List<CompletionStage<List<GenerationEvent>>> runs) throws Exception {
        for (int i = 0; i < runs.size(); i++) {
            assertEquals(expected.get(i), TestCluster.text(get(runs.get(i))), "stream " + i + ": " + prompts.get(i));
        }
    }

    private double replays(String reason) {
        String text = NodeMetrics.of(cluster.coordinator).scrape();
        for (String line : text.split("\n")) {
            if (line.startsWith("tandem_sequence_replays_total{") && line.contains("reason=\"" + reason + "\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    private static void assertPhases(List<RebalanceProgress> progress, RebalanceProgress.Phase... phases) {
        List<RebalanceProgress.Phase> seen = progress.stream().map(RebalanceProgress::phase).toList();
        for (RebalanceProgress.Phase phase : phases) assertTrue(seen.contains(phase), phase + " in " + progress);
        assertEquals(RebalanceProgress.Phase.DONE, seen.getLast(), progress.toString());
        assertFalse(progress.stream().anyMatch(p -> p.fraction() < 0 || p.fraction() > 1));
    }

    private static ClusterStatus.NodeStatus node(ClusterStatus status, String address) {
        return status.nodes().stream().filter(n -> n.address().equals(address)).findFirst()
                .orElseThrow(() -> new AssertionError("no node " + address + " in " + status));
    }
}
