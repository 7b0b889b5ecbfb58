package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.InferenceClient;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.tandem.ops.ClusterTestSupport.await;
import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crashes, with real processes: two coordinator JVMs (each with its own gRPC port; the first hosts the placement
 * singleton) and three worker JVMs (two run 3+3 layers, the third is an idle standby), all with a failure detector
 * and split-brain resolver tuned for a test. First a worker that runs layers is killed with SIGKILL while 8 greedy
 * streams (half on each coordinator) generate: every stream must end with exactly its fault-free text. Then the
 * coordinator that hosts the placement singleton is killed with SIGKILL while streams run on both: the other
 * coordinator's streams end exactly, it serves new requests, and after the singleton's handover `ctl plan` shows
 * the same ranges. Recovery times are printed, not asserted.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiJvmFaultsTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration HANDOVER_TIMEOUT = Duration.ofSeconds(90);
    private static final String HOST = "127.0.0.1";
    private static final String TOKEN = "faults-test-token";
    private static final int STREAMS = 8;
    /** Long enough that the streams are mid-generation when a node dies. */
    private static final int TOKENS = 120;
    /** Chunks each stream must have received before the kill. */
    private static final int CHUNKS_BEFORE_KILL = 8;
    /**
     * Failure detection for a test on a loaded machine: a node is unreachable after ~3 s without heartbeats (the
     * production pause, at a faster heartbeat) and downed when that has been stable for 3 s instead of 10 s (the
     * production defaults are in cluster-config's reference.conf). Shorter pauses risk false suspicions when five
     * JVMs share two busy cores.
     */
    private static final List<String> FAST_DOWNING = List.of(
            "-c", "akka.cluster.failure-detector.heartbeat-interval=500ms",
            "-c", "akka.cluster.failure-detector.acceptable-heartbeat-pause=3s",
            "-c", "akka.cluster.split-brain-resolver.stable-after=3s",
            "-c", "akka.cluster.unreachable-nodes-reaper-interval=500ms");

    private static final List<Node> nodes = new ArrayList<>();
    private static Path logs;
    private static ClusterTestSupport support;
    private static ActorSystem<Void> system;
    private static Node coordinatorA;
    private static Node coordinatorB;
    private static InferenceClient inferenceA;
    private static InferenceClient inferenceB;

    /** A node process with its names and addresses. */
    private record Node(String name, Process process, String address, HostAndPort grpc, int metricsPort) {}

    @BeforeAll
    static void startCluster() throws Exception {
        logs = Files.createDirectories(Path.of("target", "multi-jvm-faults"));
        support = new ClusterTestSupport();
        system = ClientSystem.create("multi-jvm-faults-test");
        int seedPort = FreePorts.pick(HOST);
        HostAndPort seed = new HostAndPort(HOST, seedPort);
        coordinatorA = startCoordinator("coordinator-a", seedPort, seed);
        try (HealthProbe a = new HealthProbe(system, coordinatorA.grpc())) {
            // Up and bound (NOT_SERVING without workers) before the second one starts: A is the oldest, the singleton's host.
            long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
            while (a.status() == dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus.UNKNOWN) {
                assertTrue(System.nanoTime() < deadline && coordinatorA.process().isAlive(), "coordinator-a did not start; logs in " + logs.toAbsolutePath());
                Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis());
            }
        }
        coordinatorB = startCoordinator("coordinator-b", FreePorts.pick(HOST), seed);
        try (AdminProbe workers = new AdminProbe(system, coordinatorA.grpc(), TOKEN)) {
            for (int i = 1; i <= 3; i++) {
                int port = FreePorts.pick(HOST);
                List<String> args = new ArrayList<>(List.of("node", "--roles", "worker", "--port", Integer.toString(port),
                        "--seeds", seed.toString(), "--threads", "1", "-c", "tandem.worker.declared-speed-gflops=10",
                        "-c", "tandem.worker.memory-budget=" + support.layerBudget(3)));
                args.addAll(FAST_DOWNING);
                nodes.add(new Node("worker-" + i, ClusterTestSupport.startNode(logs, "worker-" + i, args.toArray(String[]::new)),
                        "akka://tandem@" + HOST + ":" + port, null, -1));
                int expected = i;
                assertTrue(workers.awaitDescribedWorkers(expected, READY_TIMEOUT, MultiJvmFaultsTest::allAlive),
                        "worker-" + i + " did not register; logs in " + logs.toAbsolutePath());
                if (i == 2) awaitServing(coordinatorA);
            }
        }
        awaitServing(coordinatorB);
        inferenceA = InferenceClient.create(ClientSystem.settings(system, coordinatorA.grpc()), system);
        inferenceB = InferenceClient.create(ClientSystem.settings(system, coordinatorB.grpc()), system);
    }

    private static Node startCoordinator(String name, int port, HostAndPort seed) throws IOException {
        int grpc = FreePorts.pick(HOST);
        int metrics = FreePorts.pick(HOST);
        List<String> args = new ArrayList<>(List.of("node", "--roles", "coordinator", "--port", Integer.toString(port),
                "--seeds", seed.toString(), "--grpc-port", Integer.toString(grpc), "--metrics-port", Integer.toString(metrics),
                "-c", "tandem.coordinator.min-workers=2", "-c", "tandem.coordinator.rebalance.on-join=off",
                "-c", "tandem.admin.token=" + TOKEN));
        args.addAll(FAST_DOWNING);
        Node node = new Node(name, ClusterTestSupport.startNode(logs, name, args.toArray(String[]::new)),
                "akka://tandem@" + HOST + ":" + port, new HostAndPort(HOST, grpc), metrics);
        nodes.add(node);
        return node;
    }

    private static boolean allAlive() {
        return nodes.stream().allMatch(n -> n.process().isAlive());
    }

    private static void awaitServing(Node coordinator) throws InterruptedException {
        try (HealthProbe health = new HealthProbe(system, coordinator.grpc())) {
            assertTrue(health.awaitServing(READY_TIMEOUT, MultiJvmFaultsTest::allAlive),
                    coordinator.name() + " did not serve; logs in " + logs.toAbsolutePath());
        }
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (inferenceA != null) inferenceA.close();
        if (inferenceB != null) inferenceB.close();
        if (system != null) ClientSystem.terminate(system, Duration.ofSeconds(10));
        for (Node n : nodes) n.process().destroyForcibly();
        for (Node n : nodes) n.process().waitFor(30, TimeUnit.SECONDS);
        if (support != null) support.close();
    }

    /** A running stream and the arrival time (System.nanoTime) of each of its chunks. */
    private record Stream(String prompt, CompletionStage<List<GenerateChunk>> chunks, List<Long> arrivals,
                          CompletableFuture<Void> warm) {}

    private static Stream stream(InferenceClient client, String prompt) {
        List<Long> arrivals = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Void> warm = new CompletableFuture<>();
        CompletionStage<List<GenerateChunk>> run = client.generate(greedy(prompt, TOKENS))
                .map(c -> {
                    arrivals.add(System.nanoTime());
                    if (arrivals.size() >= CHUNKS_BEFORE_KILL) warm.complete(null);
                    return c;
                })
                .runWith(Sink.seq(), system);
        run.whenComplete((ok, failure) -> warm.complete(null));
        return new Stream(prompt, run, arrivals, warm);
    }

    /** Kill → the first chunk after a stream's longest pause that spans the kill, the earliest over the streams. */
    private static double clientRecoveryMs(List<Stream> streams, long killedAt) {
        long first = Long.MAX_VALUE;
        for (Stream s : streams) {
            List<Long> times;
            synchronized (s.arrivals()) {
                times = List.copyOf(s.arrivals());
            }
            long longestGap = -1;
            long resumedAt = -1;
            for (int i = 1; i < times.size(); i++) {
                long gap = times.get(i) - times.get(i - 1);
                if (times.get(i) > killedAt && gap > longestGap) {
                    longestGap = gap;
                    resumedAt = times.get(i);
                }
            }
            if (resumedAt > 0) first = Math.min(first, resumedAt);
        }
        return first == Long.MAX_VALUE ? Double.NaN : (first - killedAt) / 1e6;
    }

    private static void kill(Node node) throws InterruptedException {
        node.process().destroyForcibly(); // SIGKILL: no leave, no shutdown hook
        assertTrue(node.process().waitFor(30, TimeUnit.SECONDS), node.name() + " exits after SIGKILL");
    }

    private static CliRun ctl(HostAndPort target, String... args) {
        List<String> all = new ArrayList<>(List.of("ctl", "--target", target.toString(), "--token", TOKEN));
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(String[]::new));
    }

    private static Config json(CliRun run) {
        assertEquals(0, run.exitCode(), run.err());
        return ConfigFactory.parseString(run.out(), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
    }

    /** The plan's assignments as "model:from-to@node", in layer order. */
    private static List<String> assignments(Config plan) {
        return plan.getConfigList("assignments").stream()
                .map(a -> a.getString("model") + ":" + a.getInt("from") + "-" + a.getInt("to") + "@" + a.getString("node"))
                .toList();
    }

    /** A coordinator's route-recovery histogram (count and sum in ms) from its /metrics. */
    private static String recoveryMetric(Node coordinator) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        String body = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + coordinator.metricsPort() + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher count = Pattern.compile("tandem_route_recovery_ms_count\\{[^}]*} (\\S+)").matcher(body);
        Matcher sum = Pattern.compile("tandem_route_recovery_ms_sum\\{[^}]*} (\\S+)").matcher(body);
        return (count.find() ? count.group(1) : "0") + " recoveries, " + (sum.find() ? sum.group(1) : "0") + " ms in all";
    }

    @Test
    @Order(1)
    void aWorkerKilledWithSigkillMidGenerationLosesNoStreamAndEveryTextIsExact() throws Exception {
        Config before = json(ctl(coordinatorA.grpc(), "plan", "--json"));
        List<String> ranges = assignments(before);
        assertEquals(2, ranges.size(), "3+3 over the first two workers: " + ranges);
        String lastStage = before.getConfigList("assignments").getLast().getString("node");
        Node victim = nodes.stream().filter(n -> n.address().equals(lastStage)).findFirst().orElseThrow();
        Node standby = nodes.get(4); // worker-3 joined after the plan was made and holds nothing

        List<Stream> streams = new ArrayList<>();
        for (int i = 0; i < STREAMS; i++) {
            streams.add(stream(i % 2 == 0 ? inferenceA : inferenceB, ClusterTestSupport.SIXTEEN_PROMPTS.get(i)));
        }
        for (Stream s : streams) await(s.warm());
        long killedAt = System.nanoTime();
        kill(victim);
        System.out.printf(Locale.ROOT, "[faults] SIGKILL %s (layers %s, pid %d)%n", victim.name(), ranges.getLast(),
                victim.process().pid());

        for (Stream s : streams) {
            List<GenerateChunk> chunks = await(s.chunks());
            assertEquals(support.solo(s.prompt(), TOKENS).textAsString(), ClusterTestSupport.text(chunks), "prompt " + s.prompt());
        }
        double clientMs = clientRecoveryMs(streams, killedAt);
        System.out.printf(Locale.ROOT, "[faults] worker kill -> first token on the new route: %.0f ms (client side); "
                        + "coordinator-a: %s; coordinator-b: %s%n", clientMs, recoveryMetric(coordinatorA), recoveryMetric(coordinatorB));

        List<String> after = assignments(json(ctl(coordinatorB.grpc(), "plan", "--json")));
        assertEquals(List.of(ranges.getFirst(), ranges.getLast().replace(victim.address(), standby.address())), after,
                "the standby took the killed worker's layers");
    }

    @Test
    @Order(2)
    void theSingletonsCoordinatorKilledWithSigkillLeavesTheOtherServingWithTheSamePlan() throws Exception {
        Config before = json(ctl(coordinatorB.grpc(), "plan", "--json"));
        List<String> ranges = assignments(before);
        long version = before.getLong("version");

        List<Stream> onA = new ArrayList<>();
        List<Stream> onB = new ArrayList<>();
        for (int i = 0; i < STREAMS; i++) {
            String prompt = ClusterTestSupport.SIXTEEN_PROMPTS.get(STREAMS + i);
            if (i % 2 == 0) onA.add(stream(inferenceA, prompt));
            else onB.add(stream(inferenceB, prompt));
        }
        for (Stream s : onA) await(s.warm());
        for (Stream s : onB) await(s.warm());
        long killedAt = System.nanoTime();
        kill(coordinatorA);
        System.out.printf(Locale.ROOT, "[faults] SIGKILL coordinator-a (placement singleton, pid %d)%n", coordinatorA.process().pid());

        for (Stream s : onB) {
            List<GenerateChunk> chunks = await(s.chunks());
            assertEquals(support.solo(s.prompt(), TOKENS).textAsString(), ClusterTestSupport.text(chunks), "prompt " + s.prompt());
        }
        System.out.printf(Locale.ROOT, "[faults] coordinator-b's streams finished %.0f ms after the kill%n",
                (System.nanoTime() - killedAt) / 1e6);
        for (Stream s : onA) {
            // The dead coordinator's own streams end: exactly (finished in time) or with the transport's error.
            try {
                List<GenerateChunk> chunks = s.chunks().toCompletableFuture().get(ClusterTestSupport.TIMEOUT_SECONDS, TimeUnit.SECONDS);
                assertEquals(support.solo(s.prompt(), TOKENS).textAsString(), ClusterTestSupport.text(chunks));
            } catch (ExecutionException e) {
                assertInstanceOf(StatusRuntimeException.class, e.getCause(), () -> "stream on the killed coordinator: " + e.getCause());
            }
        }

        // Right after the kill the dead coordinator's sequences may still hold KV on the workers (they are freed when
        // coordinator-a is removed from the cluster, checked at the end).
        CliRun workersAfter = ctl(coordinatorB.grpc(), "status", "--json");
        if (workersAfter.exitCode() == 0) {
            for (Config n : json(workersAfter).getConfigList("nodes")) {
                if (n.getStringList("roles").contains("worker")) {
                    System.out.printf(Locale.ROOT, "[faults] after coordinator-a died: %s holds %s sequence(s), %s bytes used%n",
                            n.getString("address"), n.hasPath("active_sequences") ? n.getValue("active_sequences").unwrapped() : "?",
                            n.hasPath("memory_used_bytes") ? n.getValue("memory_used_bytes").unwrapped() : "?");
                }
            }
        }

        for (String prompt : List.of("Once upon a time", "Lily and Ben went to the park")) {
            List<GenerateChunk> next = ClusterTestSupport.generate(system, inferenceB, greedy(prompt, 24));
            assertEquals(support.solo(prompt, 24).textAsString(), ClusterTestSupport.text(next), "new request on coordinator-b");
        }

        // The singleton moves to coordinator-b and recovers the plan from the workers' stages (a higher version).
        long deadline = System.nanoTime() + HANDOVER_TIMEOUT.toNanos();
        Config recovered = null;
        while (System.nanoTime() < deadline) {
            CliRun run = ctl(coordinatorB.grpc(), "plan", "--json");
            if (run.exitCode() == 0) {
                Config c = json(run);
                if (c.getLong("version") > version) {
                    recovered = c;
                    break;
                }
            }
            Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis());
        }
        assertNotEquals(null, recovered, "no plan newer than v" + version + " on coordinator-b within " + HANDOVER_TIMEOUT
                + "; logs in " + logs.toAbsolutePath());
        System.out.printf(Locale.ROOT, "[faults] plan v%d recovered by the new singleton %.0f ms after the kill: %s%n",
                recovered.getLong("version"), (System.nanoTime() - killedAt) / 1e6, assignments(recovered));
        assertEquals(ranges, assignments(recovered), "the same ranges on the same workers");

        List<GenerateChunk> last = ClusterTestSupport.generate(system, inferenceB, greedy("Once upon a time, a cat saw", 24));
        assertEquals(support.solo("Once upon a time, a cat saw", 24).textAsString(), ClusterTestSupport.text(last));

        // Once coordinator-a is removed from the cluster, the stages free the KV of the sequences it drove: with
        // coordinator-b idle, no worker holds a sequence.
        long freeDeadline = System.nanoTime() + HANDOVER_TIMEOUT.toNanos();
        String holding = "?";
        while (System.nanoTime() < freeDeadline) {
            CliRun run = ctl(coordinatorB.grpc(), "status", "--json");
            if (run.exitCode() == 0) {
                holding = json(run).getConfigList("nodes").stream().filter(n -> n.getStringList("roles").contains("worker"))
                        .filter(n -> n.getLong("active_sequences") > 0)
                        .map(n -> n.getString("address") + " holds " + n.getLong("active_sequences")).toList().toString();
                if (holding.equals("[]")) break;
            }
            Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis());
        }
        assertEquals("[]", holding, "the dead coordinator's sequences are freed on the workers");
    }
}
