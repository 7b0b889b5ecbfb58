package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.japi.Pair;
import akka.stream.KillSwitches;
import akka.stream.UniqueKillSwitch;
import akka.stream.javadsl.Keep;
import akka.stream.javadsl.Sink;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.protocol.grpc.FinishReason;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.ListModelsRequest;
import dev.tandem.protocol.grpc.ListModelsResponse;
import dev.tandem.protocol.grpc.NodeInfo;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.grpc.StatusResponse;
import io.grpc.Status;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static dev.tandem.ops.ClusterTestSupport.CONTEXT;
import static dev.tandem.ops.ClusterTestSupport.await;
import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real cluster of three JVMs on loopback, each running {@code tandem node} (this test's java and
 * class path): a coordinator and two workers holding three of the six layers each, called through
 * real gRPC clients. One cluster serves every test method; the processes are killed afterwards.
 */
class MultiJvmClusterTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration KV_RELEASE_TIMEOUT = Duration.ofSeconds(30);
    /** Kept small so that the oversized-prompt test sends little; proves the limit is configurable. */
    private static final int MAX_PROMPT_BYTES = 4096;
    private static final String HOST = "127.0.0.1";
    static final String TOKEN = "multi-jvm-test-token";

    private static final List<Process> processes = new ArrayList<>();
    private static Path logs;
    private static ClusterTestSupport support;
    private static ActorSystem<Void> system;
    private static InferenceClient inference;
    private static AdminClient admin;

    @BeforeAll
    static void startCluster() throws Exception {
        logs = Files.createDirectories(Path.of("target", "multi-jvm-cluster"));
        int coordinatorPort = FreePorts.pick(HOST);
        int grpcPort = FreePorts.pick(HOST);
        String seed = new HostAndPort(HOST, coordinatorPort).toString();
        support = new ClusterTestSupport();
        start("coordinator", "node", "--roles", "coordinator", "--port", Integer.toString(coordinatorPort), "--seeds", seed,
                "--grpc-port", Integer.toString(grpcPort), "-c", "tandem.coordinator.min-workers=2",
                "-c", "tandem.gateway.max-prompt-bytes=" + MAX_PROMPT_BYTES, "-c", "tandem.admin.token=" + TOKEN);
        system = ClientSystem.create("multi-jvm-cluster-test");
        HostAndPort target = new HostAndPort(HOST, grpcPort);
        // One worker after the other, as 'tandem cluster up' does: placement splits layers by the speed
        // each worker measures at start-up, which two JVMs starting at once on few cores would skew.
        try (AdminProbe workers = new AdminProbe(system, target, TOKEN)) {
            for (int i = 1; i <= 2; i++) {
                start("worker-" + i, "node", "--roles", "worker", "--port", Integer.toString(FreePorts.pick(HOST)), "--seeds", seed,
                        "-c", "tandem.worker.memory-budget=" + threeLayerBudget());
                assertTrue(workers.awaitDescribedWorkers(i, READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive)),
                        "worker-" + i + " did not register; logs in " + logs.toAbsolutePath());
            }
        }
        try (HealthProbe health = new HealthProbe(system, target)) {
            boolean serving = health.awaitServing(READY_TIMEOUT, () -> processes.stream().allMatch(Process::isAlive));
            assertTrue(serving, "the cluster did not serve within " + READY_TIMEOUT + "; logs in " + logs.toAbsolutePath());
        }
        inference = InferenceClient.create(ClientSystem.settings(system, target), system);
        admin = AdminClient.create(ClientSystem.settings(system, target), system);
    }

    /**
     * A worker memory budget that holds three layers plus the embedding (first stage) or the output head
     * (last stage), but not four. Placement splits layers by each worker's measured speed, capped by its
     * memory; on a busy machine with few cores the start-up speed measurements vary several-fold, so the
     * cap is what makes the split three and three here, as it would be on two equal machines.
     */
    private static long threeLayerBudget() {
        return support.layerBudget(3);
    }

    private static void start(String name, String... args) throws IOException {
        processes.add(ClusterTestSupport.startNode(logs, name, args));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (inference != null) inference.close();
        if (admin != null) admin.close();
        if (system != null) ClientSystem.terminate(system, Duration.ofSeconds(10));
        for (Process p : processes) p.destroyForcibly();
        for (Process p : processes) p.waitFor(30, TimeUnit.SECONDS);
        if (support != null) support.close();
    }

    @Test
    void theModelIsSplitThreeAndThreeOverTheTwoWorkers() throws Exception {
        ListModelsResponse models = await(inference.listModels(ListModelsRequest.getDefaultInstance()));
        assertEquals(ClusterTestSupport.MODEL, models.getModels(0).getName());
        assertEquals(6, models.getModels(0).getLayers());
        assertTrue(models.getModels(0).getReady());

        List<NodeInfo> workers = workers(status());
        assertEquals(2, workers.size());
        for (NodeInfo w : workers) {
            assertEquals(1, w.getRangesCount(), "ranges of " + w.getAddress());
            assertEquals(3, w.getRanges(0).getTo() - w.getRanges(0).getFrom(), "layers of " + w.getAddress());
        }
    }

    @ParameterizedTest
    @CsvSource({
            "Once upon a time, greedy_once_upon_a_time.txt, FINISH_REASON_EOS",
            "Lily and Ben went to the park, greedy_lily_and_ben.txt, FINISH_REASON_LENGTH"
    })
    void greedyGenerationThroughGrpcEqualsTheSingleProcessEngine(String prompt, String reference, FinishReason finish)
            throws Exception {
        // max_tokens 0: until the context is full, as run.c's -n 256 does.
        List<GenerateChunk> chunks = ClusterTestSupport.generate(system, inference, greedy(prompt, 0));
        assertEquals(ClusterTestSupport.reference(reference), prompt + ClusterTestSupport.text(chunks) + "\n");
        assertEquals(finish, chunks.getLast().getFinishReason());
    }

    @Test
    void sixteenConcurrentStreamsEachEqualTheirSoloText() throws Exception {
        support.assertSixteenConcurrentStreamsEqualSolo(system, inference);
        awaitWorkers(w -> w.getKvCacheBytes() == 0 && w.getActiveSequences() == 0, "no KV left after the streams ended");
    }

    @Test
    void cancellingAStreamFreesItsKvOnBothWorkersAndTheClusterKeepsServing() throws Exception {
        AtomicInteger chunks = new AtomicInteger();
        CompletableFuture<Void> streaming = new CompletableFuture<>();
        Pair<UniqueKillSwitch, CompletionStage<akka.Done>> running = inference
                .generate(greedy("Lily and Ben went to the park", 0))
                .viaMat(KillSwitches.single(), Keep.right())
                .toMat(Sink.foreach(chunk -> {
                    if (chunks.incrementAndGet() == 3) streaming.complete(null);
                }), Keep.both())
                .run(system);
        await(streaming);

        List<NodeInfo> busy = workers(status());
        for (NodeInfo w : busy) {
            assertTrue(w.getKvCacheBytes() > 0, "KV in use on " + w.getAddress() + " while streaming");
            assertEquals(1, w.getActiveSequences(), "sequences on " + w.getAddress());
        }

        running.first().shutdown(); // the client goes away: cancels the gRPC stream
        await(running.second());
        assertTrue(chunks.get() < CONTEXT, "cancelled mid-generation");
        awaitWorkers(w -> w.getKvCacheBytes() == 0 && w.getActiveSequences() == 0, "KV freed after the cancellation");

        List<GenerateChunk> next = ClusterTestSupport.generate(system, inference, greedy("Once upon a time", 20));
        assertEquals(support.solo("Once upon a time", 20).textAsString(), ClusterTestSupport.text(next));
    }

    @Test
    void badRequestsGetPreciseStatusesAndTheNextValidRequestSucceeds() throws Exception {
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "prompt must not be empty", greedy("", 5));
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "max_tokens must be in [1, 256]", greedy("Hi", -1));
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "got 257", greedy("Hi", CONTEXT + 1));
        ClusterTestSupport.assertStatus(system, inference, Status.Code.NOT_FOUND, "model \"gpt-17\" is not served here",
                greedy("Hi", 5).toBuilder().setModel("gpt-17").build());
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT,
                "prompt is " + (MAX_PROMPT_BYTES + 1) + " bytes of UTF-8, more than the limit of " + MAX_PROMPT_BYTES,
                greedy("a".repeat(MAX_PROMPT_BYTES + 1), 5));
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "invalid UTF-8",
                ClusterTestSupport.invalidUtf8Prompt());
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "temperature must be in [0, 2.0]",
                greedy("Hi", 5).toBuilder().setTemperature(3f).build());
        // Within the byte limit but longer than the context in tokens: the backend's own check.
        ClusterTestSupport.assertStatus(system, inference, Status.Code.INVALID_ARGUMENT, "tokens",
                greedy("Once upon a time ".repeat(80), 5));

        List<GenerateChunk> ok = ClusterTestSupport.generate(system, inference, greedy("Lily and Ben", 8));
        assertEquals(8, ok.getLast().getUsage().getCompletionTokens());
        assertEquals(support.solo("Lily and Ben", 8).textAsString(), ClusterTestSupport.text(ok));
    }

    private static StatusResponse status() throws Exception {
        return await(admin.status().addHeader("authorization", "Bearer " + TOKEN).invoke(StatusRequest.getDefaultInstance()));
    }

    private static List<NodeInfo> workers(StatusResponse status) {
        return status.getNodesList().stream().filter(n -> n.getRolesList().contains("worker")).toList();
    }

    /** Polls Admin.Status until every worker satisfies the condition. */
    private static void awaitWorkers(Predicate<NodeInfo> condition, String what) throws Exception {
        long deadline = System.nanoTime() + KV_RELEASE_TIMEOUT.toNanos();
        List<NodeInfo> last = List.of();
        while (System.nanoTime() < deadline) {
            last = workers(status());
            if (last.size() == 2 && last.stream().allMatch(condition)) return;
            Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis());
        }
        throw new AssertionError(what + ": workers still report " + last);
    }
}
