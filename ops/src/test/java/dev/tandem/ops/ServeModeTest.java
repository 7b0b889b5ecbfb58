package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.InferenceClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code tandem serve}'s embedded cluster (a coordinator and two worker ActorSystems in this JVM) through gRPC. */
class ServeModeTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private static EmbeddedCluster cluster;
    private static ClusterTestSupport support;
    private static ActorSystem<Void> system;
    private static InferenceClient inference;
    private static java.nio.file.Path drafts;

    @BeforeAll
    static void start() throws Exception {
        // The coordinator's drafts in a directory of the test's own, not in the shared Tandem home.
        drafts = java.nio.file.Files.createTempDirectory("serve-mode-drafts");
        cluster = EmbeddedCluster.start(2, 0, Map.of("tandem.coordinator.min-workers", 2, "tandem.drafts.dir", drafts.toString()), READY_TIMEOUT);
        support = new ClusterTestSupport();
        system = ClientSystem.create("serve-mode-test");
        HostAndPort target = new HostAndPort(cluster.grpcAddress().getHostString(), cluster.grpcAddress().getPort());
        try (HealthProbe health = new HealthProbe(system, target)) {
            assertTrue(health.awaitServing(READY_TIMEOUT, () -> true), "the embedded cluster did not serve");
        }
        inference = InferenceClient.create(ClientSystem.settings(system, target), system);
    }

    @AfterAll
    static void stop() {
        if (inference != null) inference.close();
        if (system != null) ClientSystem.terminate(system, Duration.ofSeconds(10));
        if (cluster != null) cluster.close();
        if (drafts != null) {
            try (var paths = java.nio.file.Files.walk(drafts)) {
                for (java.nio.file.Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) java.nio.file.Files.deleteIfExists(p);
            } catch (java.io.IOException ignored) {
                // a temporary directory left behind is harmless
            }
        }
        if (support != null) support.close();
    }

    @Test
    void greedyReferenceThroughTheEmbeddedCluster() throws Exception {
        List<GenerateChunk> chunks = ClusterTestSupport.generate(system, inference, greedy("Once upon a time", 0));
        assertEquals(ClusterTestSupport.reference("greedy_once_upon_a_time.txt"),
                "Once upon a time" + ClusterTestSupport.text(chunks) + "\n");
    }

    @Test
    void sixteenConcurrentStreamsEachEqualTheirSoloText() throws Exception {
        support.assertSixteenConcurrentStreamsEqualSolo(system, inference);
    }
}
