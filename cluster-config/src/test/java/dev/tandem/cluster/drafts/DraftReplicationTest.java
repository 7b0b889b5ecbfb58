package dev.tandem.cluster.drafts;

import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.grpc.GrpcClientSettings;
import akka.http.javadsl.ServerBinding;
import akka.stream.javadsl.Source;
import com.typesafe.config.Config;
import dev.tandem.cluster.AdminService;
import dev.tandem.cluster.NodeSettings;
import dev.tandem.coordinator.api.AdminBackend;
import dev.tandem.coordinator.api.ClusterStatus;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.coordinator.api.ModelPlan;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.api.RebalanceRequest;
import dev.tandem.coordinator.grpc.GatewayServer;
import dev.tandem.coordinator.grpc.GatewaySettings;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.DraftInfo;
import dev.tandem.protocol.grpc.ListDraftsRequest;
import dev.tandem.protocol.grpc.PromoteDraftRequest;
import dev.tandem.protocol.grpc.RollbackDraftRequest;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import dev.tandem.trainer.version.SwappableDraft;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two nodes, each its own ActorSystem with its own draft directory (as two machines with their own Tandem
 * homes), in one Akka cluster over Artery on loopback: a draft published in the "worker"'s registry reaches the
 * "coordinator" in chunks through Artery serialization (Kryo), is persisted in the coordinator's own directory,
 * reloads from there, and is what the coordinator's swappable draft opens proposers from. Then the Admin API
 * (real gRPC) lists, rolls back and promotes on the coordinator, and the worker follows; and a live draft whose
 * live acceptance is worse than its predecessor's is rolled back everywhere.
 */
class DraftReplicationTest {

    private static final String MODEL = "m";
    private static final String TOKEN = "t0ken";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final DraftConfig CONFIG = new DraftConfig(32, 64, 1, 4, 2, 512, 128, 64, 1e-5f, 10000f);

    @TempDir
    static Path homes;

    private static Node coordinator;
    private static Node worker;
    private static ServerBinding binding;
    private static AdminClient admin;
    private static ParallelRunner runner;
    private static SwappableDraft coordinatorDrafts;

    private record Node(ActorSystem<Void> system, DraftRegistry registry, ActorRef<DraftReplicator.Command> replicator) {}

    @BeforeAll
    static void start() throws Exception {
        coordinator = node(homes.resolve("coordinator"), true);
        worker = node(homes.resolve("worker"), false);
        Cluster.get(coordinator.system()).manager().tell(Join.create(coordinator.system().address()));
        Cluster.get(worker.system()).manager().tell(Join.create(coordinator.system().address()));
        runner = new ParallelRunner(1);
        coordinatorDrafts = new ClusterDraftSource(coordinator.registry(), new dev.tandem.trainer.traffic.TrafficClassifier(5, 0.9),
                dev.tandem.engine.model.DraftWeights.INT8)
                .drafts(MODEL, CONFIG.vocabSize(), CONFIG.seqLen(), runner);
        ActorSystem<Void> sys = coordinator.system();
        ClusterDraftAdmin drafts = new ClusterDraftAdmin(sys, coordinator.replicator(), Set.of(MODEL), Duration.ofSeconds(30));
        binding = GatewayServer.bind(sys, new NoInference(), GatewaySettings.fromConfig(sys.settings().config()), "127.0.0.1", 0,
                Optional.of(new AdminService(sys, new NoAdmin(), Optional.of(drafts))), Optional.of(TOKEN)).toCompletableFuture().get(30, TimeUnit.SECONDS);
        admin = AdminClient.create(GrpcClientSettings.connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), sys).withTls(false), sys);
    }

    private static Node node(Path home, boolean coordinatorRole) throws Exception {
        Config config = NodeSettings.load("embedded", Map.of(
                "tandem.drafts.chunk-bytes", 8192,
                "tandem.drafts.resync-interval", "1s",
                "tandem.drafts.live-check.interval", "200ms",
                "tandem.drafts.live-check.min-proposed", 50)).actorSystemConfig();
        DraftsSettings settings = DraftsSettings.fromConfig(config);
        DraftRegistry registry = DraftRegistry.open(home.resolve("drafts"));
        CompletableFuture<ActorRef<DraftReplicator.Command>> replicator = new CompletableFuture<>();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(context -> {
            DraftReplicator.LiveAcceptance live = coordinatorRole
                    ? OnlineDistillation.liveAcceptance(NodeMetrics.of(context.getSystem()), Set.of(MODEL)) : null;
            replicator.complete(context.spawn(DraftReplicator.create(registry, settings, MODEL, live), DraftReplicator.ACTOR_NAME,
                    DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER)));
            return Behaviors.<Void>empty();
        }), NodeSettings.SYSTEM_NAME, config);
        return new Node(system, registry, replicator.get(30, TimeUnit.SECONDS));
    }

    @AfterAll
    static void stop() {
        if (admin != null) admin.close();
        if (worker != null) worker.system().terminate();
        if (coordinator != null) coordinator.system().terminate();
        if (runner != null) runner.close();
        if (worker != null) worker.system().getWhenTerminated().toCompletableFuture().join();
        if (coordinator != null) coordinator.system().getWhenTerminated().toCompletableFuture().join();
    }

    @Test
    void draftsTravelToTheCoordinatorPersistThereAndFollowAdminCallsAndLiveAcceptance() throws Exception {
        // 1. Published on the worker (the trainer's path: a candidate that beat the live draft) ...
        DraftModel v1 = draft(1);
        publish(worker.registry(), "general", v1);
        awaitLive(coordinator, live -> live.getOrDefault("general", 0L) == 1);
        // ... the coordinator has it in its own directory, bit for bit, and serves it.
        Path file = homes.resolve("coordinator").resolve("drafts").resolve("general").resolve("v1.draft");
        assertTrue(Files.isRegularFile(file), "persisted under the coordinator's own home");
        assertSameWeights(v1, DraftCheckpoint.read(file));
        assertEquals(1, coordinatorDrafts.draftFor("general").version());
        assertEquals("draft:general@1", open(coordinatorDrafts, ""));
        assertEquals(1, DraftRegistry.open(homes.resolve("coordinator").resolve("drafts")).live("general").orElseThrow().version(),
                "reloaded at start-up");

        // 2. Newer versions and a class of its own.
        publish(worker.registry(), "general", draft(2));
        publish(worker.registry(), "animals", draft(3));
        awaitLive(coordinator, live -> live.getOrDefault("general", 0L) == 2 && live.getOrDefault("animals", 0L) == 1);
        assertEquals("draft:animals@1", open(coordinatorDrafts, "animals"));
        assertEquals("draft:general@2", open(coordinatorDrafts, ""));
        assertEquals("draft:general@2", open(coordinatorDrafts, "space"), "a class without its own draft gets the general one");

        // 3. The Admin API on the coordinator (through gRPC), replicated to the worker.
        List<DraftInfo> listed = call(admin.listDrafts().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(ListDraftsRequest.getDefaultInstance())).getDraftsList();
        assertTrue(listed.stream().anyMatch(d -> d.getTrafficClass().equals("general") && d.getVersion() == 2 && d.getState().equals("live")
                && d.getModel().equals(MODEL) && d.getTrainingSteps() == 40), listed.toString());
        assertTrue(listed.stream().anyMatch(d -> d.getTrafficClass().equals("general") && d.getVersion() == 1 && d.getState().equals("retired")), listed.toString());
        var status = call(admin.status().addHeader("authorization", "Bearer " + TOKEN).invoke(StatusRequest.getDefaultInstance()));
        assertEquals(2, status.getDraftsCount(), status.getDraftsList().toString());

        DraftInfo back = call(admin.rollbackDraft().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(RollbackDraftRequest.newBuilder().setModel(MODEL).setTrafficClass("general").build()));
        assertEquals(1, back.getVersion());
        assertEquals("live", back.getState());
        awaitLive(worker, live -> live.getOrDefault("general", 0L) == 1);
        assertEquals("draft:general@1", open(coordinatorDrafts, ""));
        assertEquals(DraftVersion.Status.ROLLED_BACK, worker.registry().entry("general", 2).orElseThrow().status(),
                "the worker's trainer must not restore what an operator rolled back");

        DraftInfo promoted = call(admin.promoteDraft().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(PromoteDraftRequest.newBuilder().setModel(MODEL).setTrafficClass("general").setVersion(2).build()));
        assertEquals(2, promoted.getVersion());
        awaitLive(worker, live -> live.getOrDefault("general", 0L) == 2);

        assertCode(Status.Code.NOT_FOUND, admin.rollbackDraft().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(RollbackDraftRequest.newBuilder().setTrafficClass("cooking").build()));
        assertCode(Status.Code.NOT_FOUND, admin.promoteDraft().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(PromoteDraftRequest.newBuilder().setTrafficClass("general").setVersion(9).build()));
        assertCode(Status.Code.NOT_FOUND, admin.listDrafts().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(ListDraftsRequest.newBuilder().setModel("other").build()));
        assertCode(Status.Code.FAILED_PRECONDITION, admin.rollbackDraft().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(RollbackDraftRequest.newBuilder().setTrafficClass("animals").build()));
        assertEquals(1, coordinator.registry().live("animals").orElseThrow().version(), "a refused rollback changes nothing");

        // 4. Live traffic says v2 does worse than v1 did: the coordinator rolls back, and the worker follows.
        var metrics = NodeMetrics.of(coordinator.system());
        metrics.counter(OnlineDistillation.PROPOSED_COUNTER, "", "model", "proposer").labels(MODEL, "draft:general@1").inc(100);
        metrics.counter(OnlineDistillation.ACCEPTED_COUNTER, "", "model", "proposer").labels(MODEL, "draft:general@1").inc(80);
        metrics.counter(OnlineDistillation.PROPOSED_COUNTER, "", "model", "proposer").labels(MODEL, "draft:general@2").inc(100);
        metrics.counter(OnlineDistillation.ACCEPTED_COUNTER, "", "model", "proposer").labels(MODEL, "draft:general@2").inc(20);
        awaitLive(coordinator, live -> live.getOrDefault("general", 0L) == 1);
        awaitLive(worker, live -> live.getOrDefault("general", 0L) == 1);
        assertEquals(DraftVersion.Status.ROLLED_BACK, worker.registry().entry("general", 2).orElseThrow().status());
        DraftVersion v2 = coordinator.registry().entry("general", 2).orElseThrow();
        assertEquals(DraftVersion.Status.ROLLED_BACK, v2.status());
        assertTrue(v2.note().contains("live acceptance 0.200"), v2.note());
        assertTrue(metrics.scrape().contains("tandem_draft_rollbacks_total{class=\"general\",reason=\"live\"} 1"), metrics.scrape());
        assertTrue(Files.notExists(homes.resolve("coordinator").resolve("drafts").resolve(".incoming")),
                "received chunks are read in memory; only the registry writes files");
    }

    private static DraftModel draft(long seed) {
        int[] ids = new int[CONFIG.headSize()];
        for (int i = 0; i < ids.length; i++) ids[i] = i * 3;
        return DraftModel.random(CONFIG, new ReducedVocabulary(ids, CONFIG.vocabSize()), seed);
    }

    private static void publish(DraftRegistry registry, String cls, DraftModel candidate) {
        AcceptanceMetrics better = new AcceptanceMetrics(0.5, 1.5, 0.4, 100);
        DraftVersion v = registry.submit(cls, candidate, new DraftEvaluator.Comparison(better, AcceptanceMetrics.NONE, true),
                "online: 40 steps, 1000 positions, loss 1.0");
        assertEquals(DraftVersion.Status.LIVE, v.status());
    }

    private static String open(SwappableDraft drafts, String trafficClass) {
        int[] prompt = {1, 5, 9};
        try (Proposer p = drafts.open(7, SamplerSettings.greedy(), prompt, trafficClass)) {
            return p.name();
        }
    }

    private static void assertSameWeights(DraftModel expected, DraftModel actual) {
        List<float[]> a = expected.parameters().arrays();
        List<float[]> b = actual.parameters().arrays();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "tensor " + i);
        assertArrayEquals(expected.vocabulary().tokens(), actual.vocabulary().tokens());
    }

    /** Polls the node's live versions until the condition holds (fails after {@link #WAIT}). */
    private static void awaitLive(Node node, Predicate<Map<String, Long>> condition) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        Map<String, Long> live;
        do {
            live = AskPattern.<DraftReplicator.Command, Map<String, Long>>ask(node.replicator(), DraftReplicator.GetLive::new,
                    Duration.ofSeconds(10), node.system().scheduler()).toCompletableFuture().get(10, TimeUnit.SECONDS);
            if (condition.test(live)) return;
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("live drafts on " + node.system().address() + " stayed " + live);
    }

    private static <T> T call(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static void assertCode(Status.Code code, CompletionStage<?> call) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> call.toCompletableFuture().get(30, TimeUnit.SECONDS));
        assertEquals(code, assertInstanceOf(StatusRuntimeException.class, e.getCause()).getStatus().getCode(), e.getCause().getMessage());
    }

    private static final class NoAdmin implements AdminBackend {
        @Override public CompletionStage<ClusterStatus> status() { return CompletableFuture.completedFuture(new ClusterStatus(List.of(), List.of())); }
        @Override public CompletionStage<List<ModelPlan>> plan(boolean proposed) { return CompletableFuture.completedFuture(List.of()); }
        @Override public Source<RebalanceProgress, NotUsed> rebalance(RebalanceRequest request) { return Source.empty(); }
        @Override public Source<RebalanceProgress, NotUsed> drain(String nodeAddress, boolean leave) { return Source.empty(); }
    }

    private static final class NoInference implements InferenceBackend {
        @Override public List<ModelDescriptor> models() { return List.of(); }
        @Override public Optional<ModelDescriptor> model(String name) { return Optional.empty(); }
        @Override public int[] tokenize(String model, String text, boolean addBos) { return new int[0]; }
        @Override public List<String> pieces(String model, int[] tokens) { return List.of(); }
        @Override public Source<GenerationEvent, NotUsed> generate(GenerationSpec spec) { return Source.empty(); }
    }
}
