package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.PrometheusText;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.tandem.ops.ClusterTestSupport.await;
import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A coordinator and three worker JVMs (workers 1 and 2 run 3+3 layers, worker 3 joins as an idle standby:
 * automatic rebalancing on join is off), operated through {@code tandem ctl} in this JVM: a live move under
 * 8 greedy streams, ctl's refusals, draining a worker with --leave under load, and every node's /metrics.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiJvmRebalanceTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    private static final String HOST = "127.0.0.1";
    private static final String TOKEN = "rebalance-test-token";
    private static final int STREAMS = 8;
    private static final int TOKENS = 48;

    private static final List<Process> processes = new ArrayList<>();
    private static final List<String> workerAddresses = new ArrayList<>();
    private static final List<Integer> metricsPorts = new ArrayList<>();
    private static Path logs;
    private static ClusterTestSupport support;
    private static ActorSystem<Void> system;
    private static InferenceClient inference;
    private static HostAndPort target;
    private static HostAndPort seed;
    /** The workers that run layers [0,3) and [3,6) at the start (placement decides the order). */
    private static String firstStage;
    private static String secondStage;

    @BeforeAll
    static void startCluster() throws Exception {
        logs = Files.createDirectories(Path.of("target", "multi-jvm-rebalance"));
        int coordinatorPort = FreePorts.pick(HOST);
        int grpcPort = FreePorts.pick(HOST);
        seed = new HostAndPort(HOST, coordinatorPort);
        support = new ClusterTestSupport();
        int coordinatorMetrics = FreePorts.pick(HOST);
        metricsPorts.add(coordinatorMetrics);
        start("coordinator", "node", "--roles", "coordinator", "--port", Integer.toString(coordinatorPort), "--seeds", seed.toString(),
                "--grpc-port", Integer.toString(grpcPort), "--metrics-port", Integer.toString(coordinatorMetrics),
                "-c", "tandem.coordinator.min-workers=2", "-c", "tandem.coordinator.rebalance.on-join=off",
                "-c", "tandem.admin.token=" + TOKEN);
        system = ClientSystem.create("multi-jvm-rebalance-test");
        target = new HostAndPort(HOST, grpcPort);
        try (AdminProbe workers = new AdminProbe(system, target, TOKEN)) {
            for (int i = 1; i <= 3; i++) {
                int port = FreePorts.pick(HOST);
                int metrics = FreePorts.pick(HOST);
                metricsPorts.add(metrics);
                workerAddresses.add("akka://tandem@" + HOST + ":" + port);
                List<String> args = new ArrayList<>(List.of("node", "--roles", "worker", "--port", Integer.toString(port),
                        "--seeds", seed.toString(), "--metrics-port", Integer.toString(metrics), "-c", "tandem.worker.declared-speed-gflops=10"));
                // The standby has no room for the whole model: a move of every layer to it is refused.
                if (i == 3) args.addAll(List.of("-c", "tandem.worker.memory-budget=" + partialModelBudget()));
                start("worker-" + i, args.toArray(String[]::new));
                int expected = i;
                assertTrue(workers.awaitDescribedWorkers(expected, READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive)),
                        "worker-" + i + " did not register; logs in " + logs.toAbsolutePath());
                if (i == 2) {
                    try (HealthProbe health = new HealthProbe(system, target)) {
                        assertTrue(health.awaitServing(READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive)),
                                "the cluster did not serve; logs in " + logs.toAbsolutePath());
                    }
                }
            }
        }
        inference = InferenceClient.create(ClientSystem.settings(system, target), system);
    }

    /**
     * Five and a half layers plus the embedding or the output head: room for the ranges it gets here (and the
     * overlap while a change runs), not for the whole model (six layers, embedding and head).
     */
    private static long partialModelBudget() {
        return support.layerBudget(5);
    }

    private static void start(String name, String... args) throws IOException {
        processes.add(ClusterTestSupport.startNode(logs, name, args));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (inference != null) inference.close();
        if (system != null) ClientSystem.terminate(system, Duration.ofSeconds(10));
        for (Process p : processes) p.destroyForcibly();
        for (Process p : processes) p.waitFor(30, TimeUnit.SECONDS);
        if (support != null) support.close();
    }

    private static CliRun ctl(String... args) {
        List<String> all = new ArrayList<>(List.of("ctl", "--target", target.toString(), "--token", TOKEN));
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(String[]::new));
    }

    private static Config statusJson() {
        CliRun run = ctl("status", "--json");
        assertEquals(0, run.exitCode(), run.err());
        return ConfigFactory.parseString(run.out(), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
    }

    /** "from-to" ranges of a node in `ctl status --json`. */
    private static List<String> ranges(Config status, String address) {
        for (Config n : status.getConfigList("nodes")) {
            if (n.getString("address").equals(address)) {
                return n.getConfigList("ranges").stream().map(r -> r.getInt("from") + "-" + r.getInt("to")).toList();
            }
        }
        return List.of();
    }

    /** Starts 8 greedy streams, waits until each has produced a token, runs {@code during}, checks every text. */
    private static void underLoad(Runnable during) throws Exception {
        List<CompletionStage<List<GenerateChunk>>> runs = new ArrayList<>();
        List<java.util.concurrent.CompletableFuture<Void>> started = new ArrayList<>();
        for (int i = 0; i < STREAMS; i++) {
            var first = new java.util.concurrent.CompletableFuture<Void>();
            started.add(first);
            runs.add(inference.generate(greedy(ClusterTestSupport.SIXTEEN_PROMPTS.get(i), TOKENS))
                    .map(c -> { first.complete(null); return c; })
                    .runWith(Sink.seq(), system));
        }
        for (var s : started) await(s);
        during.run();
        for (int i = 0; i < STREAMS; i++) {
            List<GenerateChunk> chunks = await(runs.get(i));
            GenerationResult solo = support.solo(ClusterTestSupport.SIXTEEN_PROMPTS.get(i), TOKENS);
            assertEquals(solo.textAsString(), ClusterTestSupport.text(chunks), "prompt " + ClusterTestSupport.SIXTEEN_PROMPTS.get(i));
        }
    }

    @Test
    @Order(1)
    void ctlRefusesClearly() {
        CliRun noToken = CliRun.of("ctl", "--target", target.toString(), "--token", "wrong", "status");
        assertEquals(1, noToken.exitCode());
        assertTrue(noToken.err().contains("UNAUTHENTICATED"), noToken.err());

        CliRun unknown = ctl("drain", "127.0.0.1:1");
        assertEquals(1, unknown.exitCode(), unknown.out());
        assertTrue(unknown.err().contains("NOT_FOUND"), unknown.err());

        CliRun badMove = ctl("rebalance", "--move", ClusterTestSupport.MODEL + ":0-99", "--to", workerAddresses.get(2));
        assertEquals(1, badMove.exitCode(), badMove.out());
        assertTrue(badMove.err().contains("answered"), badMove.err());

        CliRun tooBig = ctl("rebalance", "--move", ClusterTestSupport.MODEL + ":0-6", "--to", workerAddresses.get(2));
        assertEquals(1, tooBig.exitCode(), tooBig.out());
        assertTrue(tooBig.err().contains("FAILED_PRECONDITION") && tooBig.err().contains("not enough memory"), tooBig.err());

        CliRun unreachable = CliRun.of("ctl", "--target", HOST + ":" + FreePorts.pick(HOST), "--token", TOKEN, "status");
        assertEquals(1, unreachable.exitCode());
        assertTrue(unreachable.err().contains("cannot reach"), unreachable.err());

        Config status = statusJson();
        List<String> first = ranges(status, workerAddresses.get(0));
        firstStage = first.equals(List.of("0-3")) ? workerAddresses.get(0) : workerAddresses.get(1);
        secondStage = firstStage.equals(workerAddresses.get(0)) ? workerAddresses.get(1) : workerAddresses.get(0);
        assertEquals(List.of("0-3"), ranges(status, firstStage));
        assertEquals(List.of("3-6"), ranges(status, secondStage));
        assertEquals(List.of(), ranges(status, workerAddresses.get(2)), "the third worker joined as a standby");
    }

    @Test
    @Order(2)
    void aLiveMoveUnderEightStreamsKeepsEveryTextExactAndStatusShowsTheNewPlan() throws Exception {
        underLoad(() -> {
            CliRun move = ctl("rebalance", "--move", ClusterTestSupport.MODEL + ":3-6", "--to", workerAddresses.get(2));
            assertEquals(0, move.exitCode(), move.err());
            assertTrue(move.out().contains("rebalance done"), move.out());
            assertTrue(move.err().contains("rebalance [") && move.err().contains("100% done"), "progress on stderr: " + move.err());
        });
        Config status = statusJson();
        assertEquals(List.of("3-6"), ranges(status, workerAddresses.get(2)));
        assertEquals(List.of(), ranges(status, secondStage));
        assertEquals(List.of("0-3"), ranges(status, firstStage));
        CliRun plan = ctl("plan");
        assertEquals(0, plan.exitCode(), plan.err());
        assertTrue(plan.out().contains(workerAddresses.get(2)), plan.out());
    }

    @Test
    @Order(3)
    void everyNodeServesPrometheusMetricsAndTheDashboardUsesOnlyExistingSeries() throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Set<String> families = new HashSet<>();
        for (int i = 0; i < metricsPorts.size(); i++) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + metricsPorts.get(i) + "/metrics"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals(MetricsRegistry.CONTENT_TYPE.replace(" ", ""), r.headers().firstValue("content-type").orElse("").replace(" ", "").toLowerCase());
            PrometheusText.Exposition e = PrometheusText.parse(r.body());
            assertTrue(e.hasFamily("tandem_jvm_heap_used_bytes"), "node " + i);
            families.addAll(e.types().keySet());
        }
        for (String series : List.of("tandem_requests_total", "tandem_prompt_tokens_total", "tandem_completion_tokens_total",
                "tandem_time_to_first_token_ms", "tandem_inter_token_latency_ms", "tandem_batch_sequences", "tandem_queue_depth",
                "tandem_rebalance_events_total", "tandem_stage_kv_bytes", "tandem_stage_step_latency_ms", "tandem_process_resident_bytes")) {
            assertTrue(families.contains(series), series + " in " + families);
        }
        String dashboard;
        try (InputStream in = MultiJvmRebalanceTest.class.getResourceAsStream("/tandem/grafana-dashboard.json")) {
            dashboard = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Config parsed = ConfigFactory.parseString(dashboard, ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
        assertFalse(parsed.getList("panels").isEmpty());
        Matcher expr = Pattern.compile("\"expr\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(dashboard);
        int exprs = 0;
        while (expr.find()) {
            exprs++;
            Matcher name = Pattern.compile("\\btandem_[a-z_]+").matcher(expr.group(1));
            while (name.find()) {
                String series = name.group().replaceFirst("_(bucket|sum|count)$", "");
                assertTrue(families.contains(series), "dashboard series " + name.group() + " is not exposed");
            }
        }
        assertTrue(exprs >= 10, "panels with queries: " + exprs);
    }

    @Test
    @Order(4)
    void drainingAWorkerUnderLoadFailsNoRequestThenItLeavesAndServingGoesOn() throws Exception {
        underLoad(() -> {
            CliRun drain = ctl("drain", firstStage, "--leave");
            assertEquals(0, drain.exitCode(), drain.err());
        });
        Process drained = processes.get(1 + workerAddresses.indexOf(firstStage));
        assertTrue(drained.waitFor(60, TimeUnit.SECONDS), "the drained worker's JVM exits after leaving");
        Config status = statusJson();
        assertTrue(ranges(status, firstStage).isEmpty());
        assertTrue(status.getConfigList("nodes").stream().noneMatch(n -> n.getString("address").equals(firstStage)
                && n.getString("status").equals("up")), "the drained worker is no longer up");
        List<GenerateChunk> next = ClusterTestSupport.generate(system, inference, greedy("Once upon a time", 20));
        assertEquals(support.solo("Once upon a time", 20).textAsString(), ClusterTestSupport.text(next));
    }

    @Test
    @Order(5)
    void aJoiningWorkerReceivesLayersByTheAutomaticRule() throws Exception {
        try (AdminProbe workers = new AdminProbe(system, target, TOKEN)) {
            start("worker-4", "node", "--roles", "worker", "--port", Integer.toString(FreePorts.pick(HOST)),
                    "--seeds", HOST + ":" + seedPort(), "-c", "tandem.worker.declared-speed-gflops=10");
            assertTrue(workers.awaitDescribedWorkers(3, READY_TIMEOUT, () -> processes.getLast().isAlive()), "worker-4 registers");
        }
        CliRun proposal = ctl("plan", "--propose", "--json");
        assertEquals(0, proposal.exitCode(), proposal.err());
        Config p = ConfigFactory.parseString(proposal.out(), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
        assertTrue(p.getBoolean("would_apply"), proposal.out());
        CliRun auto = ctl("rebalance", "--auto");
        assertEquals(0, auto.exitCode(), auto.err());
        Config status = statusJson();
        long withLayers = status.getConfigList("nodes").stream().filter(n -> !n.getConfigList("ranges").isEmpty()).count();
        assertEquals(3, withLayers, "the newcomer runs layers too: " + status.root().render());
        List<GenerateChunk> next = ClusterTestSupport.generate(system, inference, greedy("Lily and Ben went to the park", 30));
        assertEquals(support.solo("Lily and Ben went to the park", 30).textAsString(), ClusterTestSupport.text(next));
    }

    private static int seedPort() {
        return seed.port();
    }
}
