package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.ListModelsRequest;
import dev.tandem.protocol.grpc.NodeInfo;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.grpc.StatusResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static dev.tandem.ops.ClusterTestSupport.await;
import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A cluster of separate JVMs with TLS and client tokens on, made from a development set of
 * {@code tandem tls dev}: a coordinator and a worker with the cluster's certificate serve; a client
 * without a token gets UNAUTHENTICATED; a plain-text client cannot connect; a worker JVM holding
 * another set's certificate cannot join (Artery's mutual TLS refuses it) and gives up.
 */
class SecureClusterTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    private static final String HOST = "127.0.0.1";
    private static final String ADMIN_TOKEN = "secure-test-admin-token";
    private static final String CLIENT_TOKEN = "secure-test-client-token";
    private static final int MAX_STREAMS_PER_TOKEN = 2;

    private static final List<Process> processes = new ArrayList<>();
    private static Path dir;
    private static Path logs;
    private static String seed;
    private static HostAndPort target;
    private static ActorSystem<Void> system;

    @BeforeAll
    static void startCluster() throws Exception {
        dir = Files.createDirectories(Path.of("target", "secure-cluster")).toAbsolutePath();
        logs = Files.createDirectories(dir.resolve("logs"));
        for (String set : List.of("cluster", "foreign")) deleteRecursively(dir.resolve(set));
        DevTlsSet.create(dir.resolve("cluster"), List.of());
        DevTlsSet.create(dir.resolve("foreign"), List.of());
        Path tokens = dir.resolve("client.tokens");
        Files.writeString(tokens, "# clients of this test\n" + CLIENT_TOKEN + "\n");

        int coordinatorPort = FreePorts.pick(HOST);
        int grpcPort = FreePorts.pick(HOST);
        seed = new HostAndPort(HOST, coordinatorPort).toString();
        target = new HostAndPort(HOST, grpcPort);
        String tls = dir.resolve("cluster").toString();
        start("coordinator", "node", "--roles", "coordinator", "--port", Integer.toString(coordinatorPort), "--seeds", seed,
                "--grpc-port", Integer.toString(grpcPort), "--tls", tls, "--client-tokens", tokens.toString(),
                "-c", "tandem.admin.token=" + ADMIN_TOKEN,
                "-c", "tandem.gateway.client-auth.max-streams-per-token=" + MAX_STREAMS_PER_TOKEN);
        system = ClientSystem.create("secure-cluster-test");
        try (AdminProbe workers = new AdminProbe(system, target, ADMIN_TOKEN, trusted(Optional.empty()))) {
            start("worker", "node", "--roles", "worker", "--port", Integer.toString(FreePorts.pick(HOST)), "--seeds", seed,
                    "--tls", tls);
            assertTrue(workers.awaitDescribedWorkers(1, READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive)),
                    "the worker did not join over TLS; logs in " + logs);
        }
        try (HealthProbe health = new HealthProbe(system, target, trusted(Optional.empty()))) {
            assertTrue(health.awaitServing(READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive)),
                    "the cluster did not serve; logs in " + logs);
        }
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (system != null) ClientSystem.terminate(system, Duration.ofSeconds(10));
        for (Process p : processes) p.destroyForcibly();
        for (Process p : processes) p.waitFor(30, TimeUnit.SECONDS);
    }

    private static void start(String name, String... args) throws IOException {
        processes.add(ClusterTestSupport.startNode(logs, name, args));
    }

    /** TLS trusting the cluster's CA, with the given client token. */
    private static ClientSecurity trusted(Optional<String> token) {
        return new ClientSecurity(Optional.of(dir.resolve("cluster").resolve("ca.pem")), token);
    }

    private static InferenceClient inference(ClientSecurity security) {
        return InferenceClient.create(ClientSystem.settings(system, target, security), system);
    }

    private static StatusRuntimeException failure(CompletionStage<?> call) {
        return ClusterTestSupport.statusOf(call);
    }

    @Test
    void aClientWithTheTokenGetsTheExactGreedyText() throws Exception {
        InferenceClient client = inference(trusted(Optional.of(CLIENT_TOKEN)));
        try {
            List<GenerateChunk> chunks = ClusterTestSupport.generate(system, client, greedy("Once upon a time", 0));
            assertEquals(ClusterTestSupport.reference("greedy_once_upon_a_time.txt"),
                    "Once upon a time" + ClusterTestSupport.text(chunks) + "\n");
        } finally {
            client.close();
        }
    }

    @Test
    void aClientWithoutAValidTokenIsUnauthenticated() {
        for (Optional<String> token : List.of(Optional.<String>empty(), Optional.of("not-" + CLIENT_TOKEN))) {
            InferenceClient client = inference(trusted(token));
            try {
                StatusRuntimeException e = failure(client.generate(greedy("Once upon a time", 5)).runWith(Sink.seq(), system));
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), () -> "token " + token + ": " + e.getStatus());
                assertTrue(e.getStatus().getDescription().contains("client token"), e.getStatus().getDescription());
                StatusRuntimeException list = failure(client.listModels(ListModelsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAUTHENTICATED, list.getStatus().getCode());
            } finally {
                client.close();
            }
        }
    }

    @Test
    void aPlainTextClientCannotConnect() {
        InferenceClient client = inference(new ClientSecurity(Optional.empty(), Optional.of(CLIENT_TOKEN)));
        try {
            StatusRuntimeException e = failure(client.listModels(ListModelsRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), () -> "plain text: " + e.getStatus());
        } finally {
            client.close();
        }
    }

    @Test
    void aClientThatDoesNotTrustTheClusterCaCannotConnect() {
        InferenceClient client = inference(new ClientSecurity(Optional.of(dir.resolve("foreign").resolve("ca.pem")),
                Optional.of(CLIENT_TOKEN)));
        try {
            StatusRuntimeException e = failure(client.listModels(ListModelsRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), () -> "foreign CA: " + e.getStatus());
        } finally {
            client.close();
        }
    }

    @Test
    void oneTokenMayHoldOnlyItsShareOfStreams() throws Exception {
        InferenceClient client = inference(trusted(Optional.of(CLIENT_TOKEN)));
        List<akka.stream.javadsl.SinkQueueWithCancel<GenerateChunk>> open = new ArrayList<>();
        try {
            // Long greedy streams, each pulled until its first chunk: then both are surely open.
            for (int i = 0; i < MAX_STREAMS_PER_TOKEN; i++) {
                var queue = client.generate(greedy("Once upon a time", 0)).runWith(Sink.queue(), system);
                assertTrue(await(queue.pull()).isPresent());
                open.add(queue);
            }
            StatusRuntimeException e = failure(client.generate(greedy("Lily and Ben", 5)).runWith(Sink.seq(), system));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), () -> e.getStatus().toString());
            assertTrue(e.getStatus().getDescription().contains("streams open"), e.getStatus().getDescription());
        } finally {
            open.forEach(akka.stream.javadsl.SinkQueueWithCancel::cancel);
            client.close();
        }
    }

    @Test
    void aNodeWithAForeignCertificateCannotJoin() throws Exception {
        Process foreign = ClusterTestSupport.startNode(logs, "foreign-worker", "node", "--roles", "worker",
                "--port", Integer.toString(FreePorts.pick(HOST)), "--seeds", seed, "--tls", dir.resolve("foreign").toString(),
                "-c", "tandem.node.join-timeout=15s");
        processes.add(foreign);
        // The node gives up after its join timeout: Artery's TLS handshake never succeeds.
        int exit = foreign.waitFor();
        assertNotEquals(0, exit, "the foreign node should fail to join");
        String log = Files.readString(logs.resolve("foreign-worker.log"));
        assertTrue(log.contains("could not join the cluster"), "foreign node log: " + log.lines().limit(40).toList());

        AdminClient admin = AdminClient.create(ClientSystem.settings(system, target, trusted(Optional.empty())), system);
        try {
            StatusResponse status = await(admin.status().addHeader("authorization", "Bearer " + ADMIN_TOKEN)
                    .invoke(StatusRequest.getDefaultInstance()));
            List<NodeInfo> workers = status.getNodesList().stream().filter(n -> n.getRolesList().contains("worker")).toList();
            assertEquals(1, workers.size(), () -> "members: " + status.getNodesList());
            assertTrue(workers.stream().noneMatch(n -> !n.getStatus().equals("up")), () -> "members: " + status.getNodesList());
        } finally {
            admin.close();
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var paths = Files.walk(p)) {
            for (Path q : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
