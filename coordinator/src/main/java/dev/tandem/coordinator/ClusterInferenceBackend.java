package dev.tandem.coordinator;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.protocol.transport.DirectTransport;
import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Props;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.ClusterSingleton;
import akka.cluster.typed.ClusterSingletonSettings;
import akka.cluster.typed.SingletonActor;
import akka.stream.javadsl.Source;
import akka.actor.Address;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import dev.tandem.coordinator.api.AdminBackend;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.ClusterStatus;
import dev.tandem.coordinator.api.LayerRange;
import dev.tandem.coordinator.api.ModelPlan;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.api.RebalanceRequest;
import dev.tandem.coordinator.placement.ChangeProgress;
import dev.tandem.coordinator.placement.PlanChange;
import dev.tandem.coordinator.placement.PlanChanges;
import dev.tandem.worker.WorkerNode;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.coordinator.api.StageStatus;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.coordinator.placement.PlacementManager;
import dev.tandem.coordinator.scheduler.Scheduler;
import dev.tandem.coordinator.session.GenerationSession;
import dev.tandem.coordinator.spec.DraftSource;
import dev.tandem.coordinator.spec.ProposerCatalog;
import dev.tandem.coordinator.spec.SpeculationSettings;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.StageActor;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The serving side on a coordinator node, as the gateway sees it ({@link InferenceBackend}).
 *
 * <p>{@link #start} opens the configured models (tokenizer and configuration; the weights are only mapped),
 * starts the placement singleton (or its proxy), and one {@link Scheduler} per model. Each
 * {@link #generate} call becomes a {@link GenerationSession} actor that feeds the returned stream.
 */
public final class ClusterInferenceBackend implements InferenceBackend, AdminBackend, AutoCloseable {

    /** Events a stream may hold beyond its tokens (the final {@link GenerationEvent.Finished} and slack). */
    private static final int EXTRA_STREAM_EVENTS = 4;

    private record ServedModel(String name, OpenedModel opened, ActorRef<Scheduler.Command> scheduler) {}

    private final ActorSystem<?> system;
    private final CoordinatorSettings settings;
    private final ActorRef<PlacementManager.Command> placement;
    private final Map<String, ServedModel> models;
    private final Map<String, Boolean> ready = new ConcurrentHashMap<>();
    private final AtomicLong sessions = new AtomicLong();

    private ClusterInferenceBackend(ActorSystem<?> system, CoordinatorSettings settings,
                                    ActorRef<PlacementManager.Command> placement, Map<String, ServedModel> models) {
        this.system = system;
        this.settings = settings;
        this.placement = placement;
        this.models = models;
    }

    /** Starts the coordinator side on this node (call once per ActorSystem). */
    public static ClusterInferenceBackend start(ActorSystem<?> system, CoordinatorSettings settings) {
        return start(system, settings, DraftSource.NONE);
    }

    /** As {@link #start(ActorSystem, CoordinatorSettings)}, with the draft models of the {@code draft} proposer from {@code drafts}. */
    public static ClusterInferenceBackend start(ActorSystem<?> system, CoordinatorSettings settings, DraftSource drafts) {
        DirectTransport.get(system); // listening before any stage looks for this node's port
        system.systemActorOf(WorkerLinks.create(), "tandem-worker-links", Props.empty());
        Map<String, OpenedModel> opened = new LinkedHashMap<>();
        Map<String, PlacementManager.ModelShape> shapes = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : settings.models().entrySet()) {
                // The coordinator runs no stage (only the tokenizer and the layerskip proposer's few layers): the
                // file mapping will do, no huge-page copy of the whole model.
                OpenedModel model = OpenedModel.open(e.getValue(), null, ProgressListener.NONE, WeightsMemory.MAPPED);
                opened.put(e.getKey(), model);
                ModelFootprint footprint = ModelFootprint.of(model.model().weights());
                shapes.put(e.getKey(), new PlacementManager.ModelShape(model.config().nLayers(), footprint, settings.headCost(footprint)));
            }
        } catch (RuntimeException e) {
            opened.values().forEach(OpenedModel::close);
            throw e;
        }
        ClusterSingletonSettings singletonSettings = ClusterSingletonSettings.create(system);
        if (!settings.singletonRole().isEmpty()) singletonSettings = singletonSettings.withRole(settings.singletonRole());
        ActorRef<PlacementManager.Command> placement = ClusterSingleton.get(system).init(
                SingletonActor.of(Behaviors.supervise(PlacementManager.create(settings, shapes))
                                        .onFailure(SupervisorStrategy.restart()), PlacementManager.SINGLETON_NAME)
                        .withSettings(singletonSettings));
        Map<String, ServedModel> served = new LinkedHashMap<>();
        ClusterInferenceBackend backend = new ClusterInferenceBackend(system, settings, placement, served);
        DraftWeights draftWeights = EngineSettings.fromConfig(system.settings().config()).draftWeights();
        for (Map.Entry<String, OpenedModel> e : opened.entrySet()) {
            OpenedModel model = e.getValue();
            Scheduler.ModelLimits limits = new Scheduler.ModelLimits(e.getKey(), model.config().seqLen(),
                    model.config().vocabSize(), model.tokenizer().bosId(), model.tokenizer().eosId());
            SpeculationSettings speculation = settings.speculation();
            java.util.function.Supplier<ProposerCatalog> proposers =
                    () -> new ProposerCatalog(e.getKey(), model, speculation, drafts, draftWeights);
            ActorRef<Scheduler.Command> scheduler = system.systemActorOf(
                    Behaviors.supervise(Scheduler.create(settings, limits, proposers, placement,
                            isReady -> backend.ready.put(e.getKey(), isReady))).onFailure(SupervisorStrategy.restart()),
                    "tandem-scheduler-" + e.getKey().replaceAll("[^A-Za-z0-9_-]", "_"),
                    DispatcherSelector.fromConfig(CoordinatorSettings.SCHEDULER_DISPATCHER));
            served.put(e.getKey(), new ServedModel(e.getKey(), model, scheduler));
        }
        return backend;
    }

    public CoordinatorSettings settings() { return settings; }

    @Override
    public List<ModelDescriptor> models() {
        return models.values().stream().map(this::describe).toList();
    }

    @Override
    public Optional<ModelDescriptor> model(String name) {
        return Optional.ofNullable(models.get(settings.resolve(name))).map(this::describe);
    }

    private ModelDescriptor describe(ServedModel m) {
        var config = m.opened().config();
        String quantization = m.opened().model().weights().layers().getFirst().wq().type().name();
        return new ModelDescriptor(m.name(), config.nLayers(), config.dim(), config.vocabSize(), config.seqLen(),
                quantization, ready.getOrDefault(m.name(), false));
    }

    @Override
    public int[] tokenize(String model, String text, boolean addBos) {
        return require(model).opened().tokenizer().encode(text, addBos, false);
    }

    @Override
    public List<String> pieces(String model, int[] tokens) {
        var tokenizer = require(model).opened().tokenizer();
        List<String> pieces = new ArrayList<>(tokens.length);
        int previous = -1; // no predecessor: each piece as the vocabulary spells it
        for (int t : tokens) {
            pieces.add(new String(tokenizer.decodeBytes(previous, t), StandardCharsets.UTF_8));
            previous = t;
        }
        return pieces;
    }

    private ServedModel require(String name) {
        ServedModel m = models.get(settings.resolve(name));
        if (m == null) throw new GenerationRejected(GenerationRejected.Code.NOT_FOUND, unknownModel(name));
        return m;
    }

    private String unknownModel(String name) {
        return "model '" + name + "' is not served here; models: " + String.join(", ", models.keySet());
    }

    @Override
    public Source<GenerationEvent, NotUsed> generate(GenerationSpec spec) {
        long acceptedAt = System.nanoTime();
        ServedModel model = models.get(settings.resolve(spec.model()));
        if (model == null) {
            return Source.failed(new GenerationRejected(GenerationRejected.Code.NOT_FOUND, unknownModel(spec.model())));
        }
        int context = model.opened().config().seqLen();
        int[] prompt = model.opened().tokenizer().encode(spec.prompt(), true, false);
        if (prompt.length >= context) {
            return Source.failed(new GenerationRejected(GenerationRejected.Code.INVALID_ARGUMENT,
                    "the prompt is " + prompt.length + " tokens; model " + model.name() + " has a context of "
                            + context + " tokens, so prompts may have at most " + (context - 1)));
        }
        long seqId = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
        var request = new GenerationSession.Request(seqId, prompt, spec.maxNewTokens(), spec.sampling(),
                spec.stopStrings(), spec.speculate(), spec.trafficClass(), acceptedAt);
        int capacity = Math.min(spec.maxNewTokens(), context) + EXTRA_STREAM_EVENTS;
        return Source.<GenerationEvent>queue(capacity).watchTermination((queue, done) -> {
            ActorRef<GenerationSession.Command> session = system.systemActorOf(
                    GenerationSession.create(request, model.name(), model.opened().tokenizer(), model.scheduler(), queue),
                    "tandem-session-" + sessions.incrementAndGet(), Props.empty());
            done.whenComplete((ok, failure) -> session.tell(GenerationSession.StreamEnded.INSTANCE));
            return NotUsed.getInstance();
        });
    }

    /** The current plans of the served models (empty until placement has run). */
    public CompletionStage<List<PipelinePlan>> plans() {
        return AskPattern.<PlacementManager.Command, PlacementManager.Plans>ask(placement, PlacementManager.GetPlans::new,
                settings.askTimeout(), system.scheduler()).thenApply(PlacementManager.Plans::plans);
    }

    /** KV memory and sequences of every stage of every plan, asked of the stages themselves. */
    public CompletionStage<List<StageStatus>> stageStatuses() {
        return plans().thenCompose(plans -> {
            List<CompletableFuture<StageStatus>> asks = new ArrayList<>();
            for (PipelinePlan plan : plans) {
                for (PipelinePlan.PlannedStage stage : plan.stages()) {
                    asks.add(AskPattern.<StageActor.Command, StageActor.StageStatus>ask(stage.stage(),
                                    StageActor.GetStatus::new, settings.askTimeout(), system.scheduler())
                            .thenApply(s -> new StageStatus(s.model(), s.workerAddress(), s.fromLayer(), s.toLayer(),
                                    s.kvBytesUsed(), s.sequences()))
                            .toCompletableFuture());
                }
            }
            return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
                    .thenApply(ignored -> asks.stream().map(CompletableFuture::join).toList());
        });
    }

    // ---- AdminBackend

    /** Progress messages a change may buffer before the caller reads them. */
    private static final int PROGRESS_BUFFER = 256;
    /** Akka marks each member's data center with a role of this prefix; status shows the configured roles only. */
    private static final String DATA_CENTER_ROLE_PREFIX = "dc-";
    private final AtomicLong adminCalls = new AtomicLong();

    @Override
    public CompletionStage<ClusterStatus> status() {
        Cluster cluster = Cluster.get(system);
        var state = cluster.state();
        Set<Address> unreachable = new HashSet<>();
        state.getUnreachable().forEach(m -> unreachable.add(m.address()));
        return describeWorkers().thenApply(descriptions -> {
            Map<String, WorkerNode.WorkerDescription> byAddress = new HashMap<>();
            for (WorkerNode.WorkerDescription d : descriptions) byAddress.put(d.address(), d);
            List<ClusterStatus.NodeStatus> nodes = new ArrayList<>();
            for (Member m : state.getMembers()) {
                String address = m.address().toString();
                WorkerNode.WorkerDescription d = byAddress.get(address);
                List<LayerRange> ranges = d == null ? List.of() : d.ranges().stream()
                        .sorted(Comparator.comparing(WorkerNode.HeldRange::model).thenComparingInt(WorkerNode.HeldRange::fromLayer))
                        .map(r -> new LayerRange(r.model(), r.fromLayer(), r.toLayer())).toList();
                int sequences = d == null ? 0 : d.stages().stream().mapToInt(StageActor.StageStatus::sequences).sum();
                double latency = d == null ? 0 : d.stages().stream().mapToDouble(StageActor.StageStatus::stepLatencyMs).max().orElse(0);
                nodes.add(new ClusterStatus.NodeStatus(address, m.getRoles().stream().filter(r -> !r.startsWith(DATA_CENTER_ROLE_PREFIX)).sorted().toList(),
                        !unreachable.contains(m.address()), m.status().toString(), ranges,
                        d == null ? 0 : d.memoryBudgetBytes() - d.freeMemoryBytes(), d == null ? 0 : d.freeMemoryBytes(),
                        sequences, latency));
            }
            nodes.sort(Comparator.comparing(ClusterStatus.NodeStatus::address));
            return new ClusterStatus(nodes, List.of());
        });
    }

    /** Every registered worker's description (workers that do not answer in time are left out). */
    private CompletionStage<List<WorkerNode.WorkerDescription>> describeWorkers() {
        return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
                        replyTo -> Receptionist.find(WorkerNode.SERVICE_KEY, replyTo), settings.askTimeout(), system.scheduler())
                .thenCompose(listing -> {
                    List<CompletableFuture<Optional<WorkerNode.WorkerDescription>>> asks = new ArrayList<>();
                    for (var worker : listing.getServiceInstances(WorkerNode.SERVICE_KEY)) {
                        asks.add(AskPattern.<WorkerNode.Command, WorkerNode.WorkerDescription>ask(worker,
                                        WorkerNode.Describe::new, settings.askTimeout(), system.scheduler())
                                .thenApply(Optional::of).exceptionally(failure -> Optional.empty()).toCompletableFuture());
                    }
                    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
                            .thenApply(ignored -> asks.stream().map(CompletableFuture::join).flatMap(Optional::stream).toList());
                });
    }

    @Override
    public CompletionStage<List<ModelPlan>> plan(boolean proposed) {
        CompletionStage<List<PlanChanges.Proposal>> proposals = AskPattern.<PlacementManager.Command, PlacementManager.Proposals>ask(
                        placement, PlacementManager.ProposePlans::new, settings.askTimeout().plus(settings.describeTimeout()),
                        system.scheduler())
                .thenApply(PlacementManager.Proposals::proposals);
        return plans().thenCombine(proposals, (current, props) -> {
            Map<String, PlanChanges.Proposal> byModel = new HashMap<>();
            for (PlanChanges.Proposal p : props) byModel.put(p.model(), p);
            List<ModelPlan> out = new ArrayList<>();
            for (PipelinePlan plan : current) {
                PlanChanges.Proposal p = byModel.get(plan.model());
                if (proposed && p != null) {
                    out.add(new ModelPlan(plan.model(), plan.layers(), 0, p.stages().stream()
                            .map(a -> new ModelPlan.Stage(a.workerId(), a.fromLayer(), a.toLayer())).toList(),
                            p.proposedBottleneck(), p.gain(), p.apply()));
                } else {
                    out.add(new ModelPlan(plan.model(), plan.layers(), plan.version(), plan.stages().stream()
                            .map(s -> new ModelPlan.Stage(s.workerAddress(), s.fromLayer(), s.toLayer())).toList(),
                            p == null ? 0 : p.currentBottleneck(), 0, false));
                }
            }
            return List.copyOf(out);
        }).exceptionallyCompose(failure -> CompletableFuture.failedFuture(new AdminException(AdminException.Code.UNAVAILABLE,
                "the placement singleton did not answer: " + failure.getMessage())));
    }

    @Override
    public Source<RebalanceProgress, NotUsed> rebalance(RebalanceRequest request) {
        PlanChange change = switch (request) {
            case RebalanceRequest.Move move -> new PlanChange.MoveRange(settings.resolve(move.model()), move.from(),
                    move.to(), move.node() == null ? "" : move.node().trim());
            case RebalanceRequest.Auto auto -> new PlanChange.AutoRebalance();
        };
        return change(change);
    }

    @Override
    public Source<RebalanceProgress, NotUsed> drain(String nodeAddress, boolean leave) {
        return change(new PlanChange.DrainNode(nodeAddress == null ? "" : nodeAddress.trim(), leave));
    }

    private Source<RebalanceProgress, NotUsed> change(PlanChange change) {
        java.time.Duration idle = settings.assignTimeout().plus(settings.drainTimeout()).plus(settings.describeTimeout());
        return Source.<RebalanceProgress>queue(PROGRESS_BUFFER).mapMaterializedValue(queue -> {
            ActorRef<ChangeProgress> relay = system.systemActorOf(ProgressRelay.create(queue, idle),
                    "tandem-admin-progress-" + adminCalls.incrementAndGet(), Props.empty());
            placement.tell(new PlacementManager.ChangePlan(change, relay));
            return NotUsed.getInstance();
        });
    }

    /** Closes the models' memory maps; call after the ActorSystem has terminated. */
    @Override
    public void close() {
        models.values().forEach(m -> m.opened().close());
    }
}
