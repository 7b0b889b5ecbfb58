package dev.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.model.TandemHome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cluster commands as a user runs them, each in its own JVM with its own Tandem home:
 * {@code cluster up}, {@code generate --target} (the same stdout as --local), {@code cluster status
 * --json}, {@code cluster down}; and the one-line failure for an unreachable target.
 */
class CliClusterTest {

    private static final long COMMAND_TIMEOUT_SECONDS = 240;
    private static Path home;

    record Run(int exitCode, String stdout, String stderr) {}

    @BeforeAll
    static void home() throws IOException {
        home = Files.createDirectories(Path.of("target", "cli-home").toAbsolutePath());
        dev.tandem.engine.model.FileTrees.delete(home.resolve("tmp")); // an earlier run's leftovers
        Path models = Files.createDirectories(home.resolve("models"));
        Path model = models.resolve(TandemHome.DEFAULT_MODEL);
        if (!Files.exists(model)) Files.createSymbolicLink(model, TandemHome.defaultModelDir().toAbsolutePath());
    }

    @AfterAll
    static void down() throws Exception {
        tandem("cluster", "down", "--grace", "10"); // also when a test failed half-way
    }

    static Run tandem(String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(home, "stdout", ".txt");
        Path err = Files.createTempFile(home, "stderr", ".txt");
        ProcessBuilder builder = new ProcessBuilder(JavaCommand.tandem(List.of(args)))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().put(TandemHome.ENV, home.toString());
        // Every JVM of the test (the command and the nodes it starts) keeps its temporary files here, so the test can
        // see that the nodes delete theirs: the collector flags are the one list of flags that reaches the nodes.
        builder.environment().put(JavaCommand.GC_OPTS_ENV,
                String.join(" ", JavaCommand.DEFAULT_GC_FLAGS) + " -Djava.io.tmpdir=" + tmp());
        Process p = builder.start();
        p.getOutputStream().close();
        if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("tandem " + String.join(" ", args) + " did not end; stderr: " + Files.readString(err));
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    static Path tmp() throws IOException {
        return Files.createDirectories(home.resolve("tmp"));
    }

    /** The temporary draft directories of the nodes (workers without a registry of their own keep one). */
    static long temporaryDraftDirs() throws IOException {
        try (var dirs = Files.list(tmp())) {
            return dirs.filter(d -> d.getFileName().toString().startsWith("tandem-drafts-")).count();
        }
    }

    @Test
    void upGenerateStatusDown() throws Exception {
        int grpcPort = FreePorts.pick(LocalCluster.HOST);
        // The server speculates with layerskip unless a request names another proposer: output stays exact.
        // Equal declared speeds: placement splits the layers over both workers however busy the machine is at start-up.
        // The gateway's warm-up on (off in the other tests, application.conf), shortened: cluster up waits for it.
        Run up = tandem("cluster", "up", "--workers", "2", "--grpc-port", Integer.toString(grpcPort), "--speculate", "layerskip",
                "-c", "tandem.worker.declared-speed-gflops=10", "-c", "tandem.gateway.warm-up.duration=3s");
        assertEquals(0, up.exitCode(), () -> "cluster up: " + up.stderr() + up.stdout());
        assertTrue(up.stdout().contains("serving default on 127.0.0.1:" + grpcPort), up.stdout());
        String coordinatorLog = Files.readString(home.resolve("cluster").resolve("logs").resolve("coordinator.log"));
        assertTrue(coordinatorLog.contains("serving path warmed up in") && coordinatorLog.contains("(0 failed)"),
                "the coordinator warmed up before SERVING, with no failed request");
        assertEquals(2, temporaryDraftDirs(), "one temporary draft directory per worker");

        String target = "127.0.0.1:" + grpcPort;
        Run generated = tandem("generate", "--target", target, "--prompt", "Once upon a time", "-t", "0", "-n", "256");
        assertEquals(0, generated.exitCode(), generated.stderr());
        assertEquals(ClusterTestSupport.reference("greedy_once_upon_a_time.txt"), generated.stdout());
        assertTrue(generated.stderr().contains("finished by eos"), generated.stderr());
        assertTrue(generated.stderr().contains("speculation layerskip: "), generated.stderr());
        Run ngram = tandem("generate", "--target", target, "--prompt", "Once upon a time", "-t", "0", "-n", "256", "--speculate", "ngram");
        assertEquals(0, ngram.exitCode(), ngram.stderr());
        assertEquals(ClusterTestSupport.reference("greedy_once_upon_a_time.txt"), ngram.stdout());
        assertTrue(ngram.stderr().contains("speculation ngram: "), ngram.stderr());
        assertTrue(ngram.stderr().contains(" rejected (") && ngram.stderr().contains("% per token)"), ngram.stderr()); // Usage.rejected

        Run status = tandem("cluster", "status", "--json");
        assertEquals(0, status.exitCode(), status.stderr());
        Config json = ConfigFactory.parseString(status.stdout());
        assertTrue(json.getBoolean("running"));
        assertEquals("SERVING", json.getString("health"));
        List<String> roles = new ArrayList<>();
        for (Config node : json.getConfigList("nodes")) {
            assertTrue(node.getBoolean("alive"), node.toString());
            assertTrue(Files.isRegularFile(Path.of(node.getString("log"))), node.toString());
            roles.addAll(node.getStringList("roles"));
        }
        assertEquals(List.of("coordinator", "worker", "worker"), roles);

        // The admin token cluster up wrote (owner only) is what ctl uses by default, against the recorded target.
        Path token = home.resolve("cluster").resolve(AdminToken.FILE);
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(token)));
        Run ctl = tandem("ctl", "status", "--json");
        assertEquals(0, ctl.exitCode(), ctl.stderr());
        Config ctlJson = ConfigFactory.parseString(ctl.stdout());
        assertEquals(3, ctlJson.getConfigList("nodes").size(), ctl.stdout());
        assertEquals(2, ctlJson.getConfigList("nodes").stream().filter(n -> !n.getConfigList("ranges").isEmpty()).count(), ctl.stdout());
        assertTrue(ctlJson.getList("drafts").isEmpty());
        // A fresh Tandem home has no drafts: the registry answers with an empty list, and a rollback names the class.
        Run drafts = tandem("ctl", "drafts", "list");
        assertEquals(0, drafts.exitCode(), drafts.stderr());
        assertEquals(1, drafts.stdout().lines().count(), drafts.stdout());
        assertTrue(drafts.stdout().startsWith("CLASS"), drafts.stdout());
        Run rollback = tandem("ctl", "drafts", "rollback", "general");
        assertEquals(CommandFailure.FAILED, rollback.exitCode());
        assertTrue(rollback.stderr().contains("NOT_FOUND: no drafts of traffic class 'general'"), rollback.stderr());
        Run promote = tandem("ctl", "drafts", "promote", "general", "3");
        assertEquals(CommandFailure.FAILED, promote.exitCode());
        assertTrue(promote.stderr().contains("NOT_FOUND"), promote.stderr());
        Run badVersion = tandem("ctl", "drafts", "promote", "general", "three");
        assertEquals(CommandFailure.USAGE, badVersion.exitCode(), badVersion.stderr());

        // Every node serves /metrics on the port cluster status records.
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        for (Config node : json.getConfigList("nodes")) {
            var r = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + node.getInt("metrics_port") + "/metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            var families = dev.tandem.protocol.metrics.PrometheusText.parse(r.body());
            assertTrue(families.hasFamily("tandem_jvm_heap_used_bytes"), node.toString());
            assertTrue(families.hasFamily("tandem_draft_live_version"), "every node runs a draft replicator: " + node);
            if (node.getStringList("roles").contains("worker")) {
                assertTrue(families.hasFamily("tandem_trainer_steps_total"), "every worker runs a draft trainer: " + node);
            }
            if (node.getStringList("roles").contains("coordinator")) {
                assertTrue(families.hasFamily("tandem_drafts_proposed_total"), "per-proposer speculation series on the coordinator");
            }
        }

        // bench load attaches to the recorded cluster and samples every node's resident memory.
        Run load = tandem("bench", "load", "--json", "--streams", "4", "--minutes", "0.25", "--warm-up", "5", "--max-tokens", "24");
        assertEquals(0, load.exitCode(), load.stderr());
        Config loadJson = ConfigFactory.parseString(load.stdout());
        System.out.println("[bench load] " + load.stdout().replaceAll("\\s+", " "));
        assertEquals(0, loadJson.getLong("failed"), load.stdout());
        assertTrue(loadJson.getLong("completed") >= 4, load.stdout());
        assertEquals(target, loadJson.getString("target"));
        assertEquals(3, loadJson.getConfigList("nodes").size(), load.stdout());
        for (Config node : loadJson.getConfigList("nodes")) {
            for (String key : List.of("rss_start_bytes", "rss_after_warm_up_bytes", "rss_end_bytes")) {
                assertTrue(node.getLong(key) > 0, key + " of " + node);
            }
        }
        for (String key : List.of("latency_p50_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms")) {
            assertTrue(loadJson.getDouble(key) > 0, key + " in " + load.stdout());
        }
        // bench cluster attaches too: single streams through the cluster alternate with in-process runs.
        Run bench = tandem("bench", "cluster", "--target", target, "--json", "--warm-up", "0", "--runs", "2",
                "--max-tokens", "16", "--spec-proposer", "ngram");
        assertEquals(0, bench.exitCode(), bench.stderr());
        System.out.println("[bench cluster] " + bench.stdout().replaceAll("\\s+", " "));
        Config benchJson = ConfigFactory.parseString(bench.stdout());
        for (String key : List.of("cluster_single_tok_s", "local_single_tok_s", "cluster_vs_local", "cluster_batch16_tok_s",
                "ttft_p50_ms", "itl_p50_ms", "itl_p99_ms", "first_single_tok_s", "first_ttft_ms")) {
            assertTrue(benchJson.getDouble(key) > 0, key + " in " + bench.stdout());
        }
        assertTrue(bench.stderr().contains("alternately"), bench.stderr());
        // Per stage: the plan (equal declared speeds: 3 + 3 layers) and each stage's forward time per step.
        Map<String, Object> stageForward = benchJson.getObject("single_step_stage_forward_ms").unwrapped();
        assertEquals(Set.of("0-3", "3-6"), stageForward.keySet(), bench.stdout());
        stageForward.values().forEach(ms -> assertTrue(((Number) ms).doubleValue() > 0, bench.stdout()));
        Run badLoad = tandem("bench", "load", "--streams", "0");
        assertEquals(CommandFailure.USAGE, badLoad.exitCode());
        assertTrue(badLoad.stderr().contains("--streams must be at least 1"), badLoad.stderr());

        Run again = tandem("cluster", "up");
        assertEquals(CommandFailure.FAILED, again.exitCode());
        assertTrue(again.stderr().contains("already running"), again.stderr());

        Run down = tandem("cluster", "down");
        assertEquals(0, down.exitCode(), down.stderr());
        assertEquals(3, down.stdout().lines().filter(l -> l.endsWith(": stopped")).count(), down.stdout());
        assertFalse(Files.exists(home.resolve("cluster").resolve(LocalCluster.STATE_FILE)));
        assertEquals(0, temporaryDraftDirs(), "cluster down left the workers' temporary draft directories behind");
    }

    @Test
    void anUnreachableTargetIsOneLineAndExitCodeOne() throws Exception {
        int nobody = FreePorts.pick(LocalCluster.HOST);
        Run r = tandem("generate", "--target", "127.0.0.1:" + nobody, "--prompt", "Hi");
        assertEquals(CommandFailure.FAILED, r.exitCode());
        assertEquals("", r.stdout());
        List<String> errors = r.stderr().lines().filter(l -> l.startsWith("tandem:")).toList();
        assertEquals(1, errors.size(), r.stderr());
        assertTrue(errors.getFirst().startsWith("tandem: error: cannot reach a Tandem server at 127.0.0.1:" + nobody), r.stderr());
    }

    @Test
    void localAndTargetExcludeEachOther() throws Exception {
        Run r = tandem("generate", "--local", "--target", "127.0.0.1:1", "--prompt", "Hi");
        assertEquals(CommandFailure.USAGE, r.exitCode());
        assertTrue(r.stderr().contains("mutually exclusive"), r.stderr());
    }
}
