package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.stream.javadsl.Sink;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.api.StageStatus;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.WorkerNode;
import dev.tandem.worker.WorkerSettings;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * An Akka Cluster inside one JVM for the route-change tests: one coordinator system and worker systems over
 * Artery on loopback (so every step is serialized), stories15M, workers with a declared speed (placement is
 * deterministic) and a memory budget counted in layers.
 */
final class TestCluster implements AutoCloseable {

    static final Duration TIMEOUT = Duration.ofSeconds(60);
    /** Every worker declares the same speed, so the balancer splits by layer counts only. */
    static final double DECLARED_SPEED = 10;

    final OpenedModel local;
    final ModelFootprint footprint;
    final ActorSystem<Void> coordinator;
    final ClusterInferenceBackend backend;
    final List<ActorSystem<Void>> workers = new ArrayList<>();
    private final Config common;
    private final ParallelRunner localRunner;
    private final LocalGenerator generator;

    /** @param extraConfig HOCON for every node (tandem.coordinator.*, akka.cluster.* ...) */
    TestCluster(String extraConfig) {
        this(extraConfig, dev.tandem.coordinator.spec.DraftSource.NONE);
    }

    /** @param drafts the coordinator's draft models (for the {@code draft} and {@code auto} proposers) */
    TestCluster(String extraConfig, dev.tandem.coordinator.spec.DraftSource drafts) {
        local = OpenedModel.open(OpenedModel.DEFAULT_SPEC, null, ProgressListener.NONE);
        footprint = ModelFootprint.of(local.model().weights());
        localRunner = new ParallelRunner(1);
        generator = new LocalGenerator(local.model().weights(), local.tokenizer(), localRunner);
        common = ConfigFactory.parseString(extraConfig).withFallback(ConfigFactory.parseString("""
                akka.actor.provider = cluster
                akka.remote.artery.canonical.hostname = 127.0.0.1
                akka.remote.artery.canonical.port = 0
                akka.cluster.downing-provider-class = "akka.cluster.sbr.SplitBrainResolverProvider"
                akka.cluster.split-brain-resolver.active-strategy = keep-majority
                akka.cluster.jmx.multi-mbeans-in-same-jvm = on
                akka.loglevel = INFO
                akka.loggers = ["akka.event.slf4j.Slf4jLogger"]
                akka.logging-filter = "akka.event.slf4j.Slf4jLoggingFilter"
                akka.log-dead-letters = off
                akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off
                akka.cluster.typed.receptionist.distributed-data.gossip-interval = 200ms
                tandem.worker.threads = 1
                tandem.worker.declared-speed-gflops = %s
                tandem.coordinator.route-wait = 60s
                """.formatted(DECLARED_SPEED))).withFallback(ConfigFactory.load());
        coordinator = ActorSystem.create(Behaviors.empty(), "tandem",
                ConfigFactory.parseString("akka.cluster.roles = [coordinator]").withFallback(common));
        Cluster.get(coordinator).manager().tell(Join.create(Cluster.get(coordinator).selfMember().address()));
        backend = ClusterInferenceBackend.start(coordinator, CoordinatorSettings.fromConfig(coordinator.settings().config()), drafts);
    }

    /** Memory for the embedding (or head) and {@code layers} layers, plus half a layer of slack for KV. */
    long budgetForLayers(int layers) {
        return footprint.embeddingBytes() + layers * footprint.layerBytes() + footprint.layerBytes() / 2;
    }

    /** Starts a worker system that joins the cluster; {@code extraConfig} is for this node only. */
    ActorSystem<Void> addWorker(long memoryBudget, String extraConfig) {
        Config config = ConfigFactory.parseString(extraConfig + "\nakka.cluster.roles = [worker]\ntandem.worker.memory-budget = "
                + memoryBudget).withFallback(common);
        WorkerSettings settings = WorkerSettings.fromConfig(config);
        ActorSystem<Void> worker = ActorSystem.create(Behaviors.setup(context -> {
            context.spawn(WorkerNode.create(settings), WorkerNode.ACTOR_NAME);
            return Behaviors.empty();
        }), "tandem", config);
        Cluster.get(worker).manager().tell(Join.create(Cluster.get(coordinator).selfMember().address()));
        workers.add(worker);
        return worker;
    }

    static String address(ActorSystem<?> system) {
        return Cluster.get(system).selfMember().address().toString();
    }

    void awaitReady() throws Exception {
        await("the pipeline is planned", () -> backend.model("default").orElseThrow().ready());
    }

    void awaitUp(int members) throws Exception {
        await(members + " members up", () -> {
            int up = 0;
            for (var m : Cluster.get(coordinator).state().getMembers()) if (m.status() == MemberStatus.up()) up++;
            return up == members;
        });
    }

    static void await(String what, BooleanSupplier condition) throws Exception {
        Await.until(what, condition, TIMEOUT);
    }

    PipelinePlan plan() throws Exception {
        return get(backend.plans()).getFirst();
    }

    /** The ranges of the plan as "FROM-TO@address". */
    List<String> planRanges() throws Exception {
        return plan().stages().stream().map(s -> s.fromLayer() + "-" + s.toLayer() + "@" + s.workerAddress()).toList();
    }

    /** Sequences with KV on the first stage of the plan. */
    int sequencesOnFirstStage() {
        try {
            List<StageStatus> statuses = get(backend.stageStatuses());
            return statuses.stream().filter(s -> s.fromLayer() == 0).mapToInt(StageStatus::sequences).sum();
        } catch (Exception e) {
            return 0;
        }
    }

    String soloText(String prompt, int maxNewTokens) {
        return new String(generator.generate(GenerationRequest.greedy(prompt, maxNewTokens), (t, id) -> {}).text(),
                StandardCharsets.UTF_8);
    }

    CompletionStage<List<GenerationEvent>> generate(String prompt, int maxNewTokens) {
        return backend.generate(new GenerationSpec("default", prompt, maxNewTokens, SamplerSettings.greedy(), List.of(), "", ""))
                .runWith(Sink.seq(), coordinator);
    }

    List<RebalanceProgress> run(akka.stream.javadsl.Source<RebalanceProgress, akka.NotUsed> change) throws Exception {
        return get(change.runWith(Sink.seq(), coordinator));
    }

    /** The refusal of a change: its stream fails with an {@link AdminException}. */
    AdminException refusal(akka.stream.javadsl.Source<RebalanceProgress, akka.NotUsed> change) throws Exception {
        try {
            List<RebalanceProgress> progress = run(change);
            throw new AssertionError("expected a refusal, got " + progress);
        } catch (ExecutionException e) {
            return assertInstanceOf(AdminException.class, e.getCause());
        }
    }

    static String text(List<GenerationEvent> events) {
        StringBuilder out = new StringBuilder();
        for (GenerationEvent e : events) if (e instanceof GenerationEvent.TextDelta d) out.append(d.text());
        return out.toString();
    }

    static Throwable cause(Throwable t) {
        return (t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null ? t.getCause() : t;
    }

    static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Terminates a worker without leaving the cluster (as a crashed JVM would). */
    static void crash(ActorSystem<Void> worker) throws Exception {
        worker.terminate();
        worker.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        for (ActorSystem<Void> w : workers) w.terminate();
        coordinator.terminate();
        for (ActorSystem<Void> w : workers) w.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        coordinator.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        backend.close();
        localRunner.close();
        local.close();
    }
}
