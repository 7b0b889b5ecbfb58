package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.protocol.metrics.NodeMetrics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static dev.tandem.coordinator.TestCluster.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A worker crashes mid-generation (its ActorSystem terminates without leaving): the split-brain resolver downs
 * it, placement moves its range to the standby, and every stream completes with its undisturbed greedy text.
 * Then the standby's replacement crashes too and nobody has room: the streams fail UNAVAILABLE within the
 * rebuild deadline instead of hanging.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailoverTest {

    private static final int MAX_NEW_TOKENS = 150;
    private static final String[] SUBJECTS = {"a cat", "a dog", "Tom", "Sue", "a bird", "Max", "Anna", "a frog"};
    /** Short failure detection for the test: ~1 s heartbeat pause, downing 1 s after the partition is stable. */
    private static final String FAST_DOWNING = """
            akka.cluster.failure-detector.heartbeat-interval = 200ms
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 1s
            akka.cluster.split-brain-resolver.stable-after = 1s
            akka.cluster.unreachable-nodes-reaper-interval = 250ms
            tandem.coordinator.route-rebuild-deadline = 5s
            """;
    /** A crashed JVM does not leave: terminating this system skips the coordinated shutdown (no Leave). */
    private static final String CRASHABLE = "akka.coordinated-shutdown.run-by-actor-system-terminate = off";

    private TestCluster cluster;
    private ActorSystem<Void> a;
    private ActorSystem<Void> b;
    private ActorSystem<Void> standby;

    @BeforeAll
    void start() throws Exception {
        cluster = new TestCluster(FAST_DOWNING + """
                tandem.coordinator.min-workers = 2
                tandem.coordinator.rebalance.on-join = off
                # Replays (prompt + generated tokens) go in chunked prefills, so a loss also lands between chunks.
                tandem.coordinator.prefill-chunk-rows = 16
                """);
        long threeLayers = cluster.budgetForLayers(3);
        ActorSystem<Void> first = cluster.addWorker(threeLayers, CRASHABLE);
        ActorSystem<Void> second = cluster.addWorker(threeLayers, CRASHABLE);
        cluster.awaitReady();
        // Placement orders workers by address: a runs [0,3), b runs [3,6).
        boolean firstLeads = cluster.plan().stages().getFirst().workerAddress().equals(TestCluster.address(first));
        a = firstLeads ? first : second;
        b = firstLeads ? second : first;
        standby = cluster.addWorker(threeLayers, CRASHABLE);
        cluster.awaitUp(4);
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) cluster.close();
    }

    @Test
    @Order(1)
    void aWorkerCrashingMidGenerationIsReplacedByTheStandbyAndEveryStreamIsExact() throws Exception {
        List<String> prompts = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (String subject : SUBJECTS) {
            String prompt = "Once upon a time, " + subject + " lived in a";
            prompts.add(prompt);
            expected.add(cluster.soloText(prompt, MAX_NEW_TOKENS));
        }
        assertEquals(List.of("0-3@" + TestCluster.address(a), "3-6@" + TestCluster.address(b)), cluster.planRanges());
        List<CompletionStage<List<GenerationEvent>>> runs = new ArrayList<>();
        for (String prompt : prompts) runs.add(cluster.generate(prompt, MAX_NEW_TOKENS));
        TestCluster.await("all streams decode", () -> cluster.sequencesOnFirstStage() == SUBJECTS.length);

        TestCluster.crash(b);
        for (int i = 0; i < runs.size(); i++) {
            assertEquals(expected.get(i), TestCluster.text(get(runs.get(i))), "stream " + i + ": " + prompts.get(i));
        }
        assertEquals(List.of("0-3@" + TestCluster.address(a), "3-6@" + TestCluster.address(standby)), cluster.planRanges());
        String metrics = NodeMetrics.of(cluster.coordinator).scrape();
        assertTrue(metrics.contains("tandem_route_recovery_ms_count{model=\"stories15M\"} 1"), metrics);
        assertTrue(metrics.contains("tandem_rebalance_events_total{kind=\"failover\",outcome=\"done\"} 1"), metrics);
    }

    @Test
    @Order(2)
    void withoutRoomForTheLostLayersStreamsFailUnavailableWithinTheDeadline() throws Exception {
        cluster.awaitUp(3);
        List<CompletableFuture<List<GenerationEvent>>> runs = new ArrayList<>();
        for (String subject : SUBJECTS) {
            runs.add(cluster.generate("Once upon a time, " + subject + " had a", 240).toCompletableFuture());
        }
        TestCluster.await("all streams decode", () -> cluster.sequencesOnFirstStage() == SUBJECTS.length);
        long crashedAt = System.nanoTime();
        TestCluster.crash(standby);
        for (CompletableFuture<List<GenerationEvent>> run : runs) {
            try {
                List<GenerationEvent> events = run.get(30, TimeUnit.SECONDS);
                // A stream may have finished before the crash took its stage away.
                assertInstanceOf(GenerationEvent.Finished.class, events.getLast());
            } catch (java.util.concurrent.ExecutionException e) {
                GenerationRejected rejected = assertInstanceOf(GenerationRejected.class, e.getCause());
                assertEquals(GenerationRejected.Code.UNAVAILABLE, rejected.code());
                assertTrue(rejected.getMessage().contains("no route was rebuilt"), rejected.getMessage());
            } catch (java.util.concurrent.TimeoutException e) {
                fail("a stream hung after its route was lost");
            }
        }
        double seconds = (System.nanoTime() - crashedAt) / 1e9;
        assertTrue(runs.stream().anyMatch(CompletableFuture::isCompletedExceptionally), "some stream lost its route");
        // Detection (~2-3 s) + the 5 s deadline, with slack for a loaded machine.
        assertTrue(seconds < 20, "failed after " + seconds + " s");
    }
}
