package dev.tandem.worker;

import akka.actor.AddressFromURIString;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.PostStop;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import dev.tandem.engine.llama.KvCache;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.protocol.KryoMessage;

import dev.tandem.protocol.transport.DirectTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * The worker side of one node: registers under {@link #SERVICE_KEY}, describes itself (address, memory,
 * threads, measured speed, stages and their KV use) and runs the layer ranges placement assigns to it, one
 * {@link StageActor} per range on the stage dispatcher. Spawn it as {@link #ACTOR_NAME} under the user
 * guardian so that activations reach its stages on Artery's large-message lane (see reference.conf).
 *
 * <p>Models are opened (memory-mapped) on first assignment and closed when their last range is dropped;
 * only the pages of the layers a stage runs are ever touched.
 */
public final class WorkerNode extends AbstractBehavior<WorkerNode.Command> {

    public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "tandem-worker");
    public static final String ACTOR_NAME = "tandem-worker";

    public sealed interface Command {}

    /** Asks for a {@link WorkerDescription}. */
    public record Describe(ActorRef<WorkerDescription> replyTo) implements Command, KryoMessage {}

    /**
     * Run layers [fromLayer, toLayer) of a model here; answered with {@link RangeAssigned}. Idempotent: a range
     * already run keeps its stage (and KV). {@code planVersion} is the plan the range is placed for; the worker
     * remembers the highest one per range, so that a new placement singleton can rebuild the current plan from
     * the workers' stages (see {@link HeldRange}).
     */
    public record AssignRange(String model, int fromLayer, int toLayer, long planVersion,
                              ActorRef<RangeAssigned> replyTo) implements Command, KryoMessage {}

    /** Stop running a range (its KV caches go with it). */
    public record DropRange(String model, int fromLayer, int toLayer) implements Command, KryoMessage {}

    /**
     * From a coordinator whose transport is up ({@code node}: its Artery address): open this node's direct connection
     * to it now, so that the first step a stage here answers (after a failover to this node, say) does not wait for
     * the discovery and the connection (0.5-1 s measured on a standby that had never served).
     */
    public record ConnectDirect(String node) implements Command, KryoMessage {}

    /**
     * A worker's capacity and state.
     *
     * @param freeMemoryBytes   memory budget minus the weights of the assigned ranges and the KV caches in use
     * @param memoryBudgetBytes what the worker offers in all (used = budget - free)
     * @param speedGflops       float32 multiply-add throughput of one stage's threads measured at start (or declared)
     * @param ranges            the ranges this worker runs, with their stage actors and plan versions
     */
    public record WorkerDescription(ActorRef<Command> node, String address, long freeMemoryBytes,
                                    long memoryBudgetBytes, int threads, double speedGflops,
                                    List<StageActor.StageStatus> stages, List<HeldRange> ranges) implements KryoMessage {
        public WorkerDescription {
            stages = List.copyOf(stages);
            ranges = List.copyOf(ranges);
        }
    }

    /** A range a worker runs: its stage and the highest plan version it was assigned for. */
    public record HeldRange(String model, int fromLayer, int toLayer, ActorRef<StageActor.Command> stage,
                            long planVersion) implements KryoMessage {}

    /** The stage of an assigned range, or the reason it could not be assigned ({@code stage} null then). */
    public record RangeAssigned(String model, int fromLayer, int toLayer, ActorRef<StageActor.Command> stage,
                                String error) implements KryoMessage {
        public boolean ok() { return stage != null; }
    }

    private record BenchmarkDone(double gflops) implements Command {}

    private record DescriptionReady(ActorRef<WorkerDescription> replyTo, List<StageActor.StageStatus> stages)
            implements Command {}

    private record StageTerminated(RangeKey range, ActorRef<StageActor.Command> stage) implements Command {}

    private record RangeKey(String model, int fromLayer, int toLayer) {}

    private static final class Assigned {
        final ActorRef<StageActor.Command> stage;
        long planVersion;

        Assigned(ActorRef<StageActor.Command> stage, long planVersion) {
            this.stage = stage;
            this.planVersion = planVersion;
        }
    }

    /** How long a describe waits for its stages' status. */
    private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);
    private static final int STASH_CAPACITY = 1000;

    public static Behavior<Command> create(WorkerSettings settings) {
        return create(settings, VerificationListener.NONE);
    }

    /**
     * @param recorder told about every verification of the last stages this worker runs (online distillation
     *                 records the target's distributions from it); called on the stage dispatcher, must be quick
     */
    public static Behavior<Command> create(WorkerSettings settings, VerificationListener recorder) {
        return Behaviors.setup(context -> {
            DirectTransport.get(context.getSystem()); // listening before a coordinator or stage looks for this node's port
            return Behaviors.withStash(STASH_CAPACITY, stash -> new WorkerNode(context, stash, settings, recorder).benchmarking());
        });
    }

    private final WorkerSettings settings;
    private final StashBuffer<Command> stash;
    private final String address;
    private final DispatcherSelector stageDispatcher;
    private final Map<RangeKey, Assigned> ranges = new LinkedHashMap<>();
    private final Map<String, OpenedModel> openModels = new HashMap<>();
    private final Map<String, ModelFootprint> footprints = new HashMap<>();
    /** Makes stage actor names unique, so a range dropped and re-assigned at once never meets its stopping predecessor. */
    private long stageIncarnation;
    /** Stage actors not yet terminated (a dropped one may still finish a step): a model is unmapped only after its last. */
    private final Map<ActorRef<StageActor.Command>, String> liveStages = new HashMap<>();
    private double speedGflops;
    /** KV memory all stages of this worker share (checked in front of each stage by {@link KvAdmission}). */
    private final KvAdmission.Budget kvBudget;

    private final VerificationListener recorder;

    private WorkerNode(ActorContext<Command> context, StashBuffer<Command> stash, WorkerSettings settings,
                       VerificationListener recorder) {
        super(context);
        this.recorder = recorder;
        this.settings = settings;
        this.stash = stash;
        this.address = context.getSystem().address().toString();
        this.stageDispatcher = DispatcherSelector.fromConfig(settings.stageDispatcher());
        this.kvBudget = new KvAdmission.Budget(settings.effectiveKvCacheBytes());
        context.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, context.getSelf()));
        if (settings.warmUpStepCodecs() > 0) StepCodecWarmUp.start(context.getSystem(), settings.warmUpStepCodecs());
        if (settings.declaredSpeedGflops() > 0) {
            context.getSelf().tell(new BenchmarkDone(settings.declaredSpeedGflops()));
            return;
        }
        Executor cpu = context.getSystem().dispatchers().lookup(stageDispatcher);
        // The benchmark is CPU work: it runs on the stage dispatcher, not on this actor's thread.
        context.pipeToSelf(CompletableFuture.supplyAsync(
                        () -> SpeedBenchmark.measureGflops(settings.benchmarkSize(), settings.effectiveThreads(),
                                settings.benchmarkDuration()), cpu),
                (gflops, failure) -> new BenchmarkDone(failure == null ? gflops : 0.0));
    }

    /** Until the speed is known, requests wait (a description without a speed would mislead placement). */
    private Behavior<Command> benchmarking() {
        return Behaviors.receive(Command.class)
                .onMessage(BenchmarkDone.class, done -> {
                    speedGflops = done.gflops();
                    getContext().getLog().info("worker {} measured {} GFLOP/s with {} threads", address,
                            String.format("%.2f", speedGflops), settings.effectiveThreads());
                    return stash.unstashAll(this);
                })
                .onAnyMessage(message -> {
                    stash.stash(message);
                    return Behaviors.same();
                })
                .build();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Describe.class, this::onDescribe)
                .onMessage(DescriptionReady.class, this::onDescriptionReady)
                .onMessage(AssignRange.class, this::onAssign)
                .onMessage(DropRange.class, this::onDrop)
                .onMessage(ConnectDirect.class, c -> {
                    DirectTransport.get(getContext().getSystem()).connect(AddressFromURIString.parse(c.node()));
                    return this;
                })
                .onMessage(StageTerminated.class, this::onStageTerminated)
                .onSignal(PostStop.class, signal -> {
                    openModels.values().forEach(OpenedModel::close);
                    return this;
                })
                .build();
    }

    private Behavior<Command> onDescribe(Describe request) {
        List<CompletableFuture<StageActor.StageStatus>> asks = new ArrayList<>();
        for (Assigned a : ranges.values()) {
            CompletionStage<StageActor.StageStatus> ask = AskPattern.ask(a.stage, StageActor.GetStatus::new,
                    STATUS_TIMEOUT, getContext().getSystem().scheduler());
            asks.add(ask.toCompletableFuture());
        }
        CompletableFuture<List<StageActor.StageStatus>> all = CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
                .thenApply(ignored -> asks.stream().map(CompletableFuture::join).toList());
        getContext().pipeToSelf(all, (statuses, failure) ->
                new DescriptionReady(request.replyTo(), failure == null ? statuses : List.of()));
        return this;
    }

    private Behavior<Command> onDescriptionReady(DescriptionReady ready) {
        long used = weightBytes();
        for (StageActor.StageStatus s : ready.stages()) used += s.kvBytesUsed();
        long budget = settings.effectiveMemoryBudget();
        List<HeldRange> held = ranges.entrySet().stream().map(e -> new HeldRange(e.getKey().model(),
                e.getKey().fromLayer(), e.getKey().toLayer(), e.getValue().stage, e.getValue().planVersion)).toList();
        ready.replyTo().tell(new WorkerDescription(getContext().getSelf(), address, Math.max(0, budget - used), budget,
                settings.effectiveThreads(), speedGflops, ready.stages(), held));
        return this;
    }

    /** Weight bytes of the assigned ranges; overlapping ranges of a model count once (one mapping). */
    private long weightBytes() {
        Map<String, List<ModelFootprint.Span>> spans = new HashMap<>();
        for (RangeKey k : ranges.keySet()) {
            spans.computeIfAbsent(k.model(), m -> new ArrayList<>()).add(new ModelFootprint.Span(k.fromLayer(), k.toLayer()));
        }
        long total = 0;
        for (Map.Entry<String, List<ModelFootprint.Span>> e : spans.entrySet()) {
            OpenedModel opened = openModels.get(e.getKey());
            total += footprints.get(e.getKey()).unionBytes(e.getValue(), opened.config().nLayers());
        }
        return total;
    }

    private Behavior<Command> onAssign(AssignRange request) {
        RangeKey key = new RangeKey(request.model(), request.fromLayer(), request.toLayer());
        Assigned existing = ranges.get(key);
        if (existing != null) {
            existing.planVersion = Math.max(existing.planVersion, request.planVersion());
            request.replyTo().tell(new RangeAssigned(key.model(), key.fromLayer(), key.toLayer(), existing.stage, ""));
            return this;
        }
        try {
            OpenedModel opened = open(request.model());
            int layers = opened.config().nLayers();
            if (request.fromLayer() < 0 || request.toLayer() > layers || request.fromLayer() >= request.toLayer()) {
                throw new IllegalArgumentException("layers [" + request.fromLayer() + ", " + request.toLayer()
                        + ") are not a range of the " + layers + " layers of " + request.model());
            }
            long pageBytes = footprints.get(request.model()).kvBytesPerTokenPerLayer()
                    * (request.toLayer() - request.fromLayer()) * KvCache.PAGE_POSITIONS;
            ActorRef<StageActor.Command> stage = getContext().spawn(KvAdmission.wrap(
                    StageActor.create(request.model(), address, opened.model().weights(), request.fromLayer(),
                            request.toLayer(), settings, recorder), kvBudget, pageBytes,
                            request.model() + "[" + request.fromLayer() + "," + request.toLayer() + ")@" + address),
                    StageActor.actorName(request.model(), request.fromLayer(), request.toLayer()) + "-" + (++stageIncarnation),
                    stageDispatcher);
            getContext().watchWith(stage, new StageTerminated(key, stage));
            liveStages.put(stage, key.model());
            ranges.put(key, new Assigned(stage, request.planVersion()));
            getContext().getLog().info("worker {} runs {} layers [{}, {})", address, key.model(), key.fromLayer(), key.toLayer());
            request.replyTo().tell(new RangeAssigned(key.model(), key.fromLayer(), key.toLayer(), stage, ""));
        } catch (RuntimeException e) {
            getContext().getLog().warn("worker {} cannot run {} layers [{}, {}): {}", address, key.model(),
                    key.fromLayer(), key.toLayer(), e.toString());
            request.replyTo().tell(new RangeAssigned(key.model(), key.fromLayer(), key.toLayer(), null,
                    String.valueOf(e.getMessage())));
        }
        return this;
    }

    private OpenedModel open(String model) {
        OpenedModel opened = openModels.get(model);
        if (opened != null) return opened;
        String spec = settings.specOf(model).orElseThrow(() -> new IllegalArgumentException(
                "model " + model + " is not configured on this worker (tandem.worker.models)"));
        // Mapped here: each stage copies only its own layers (tandem.engine.weights-memory), see StageActor.
        opened = OpenedModel.open(spec, null, ProgressListener.NONE, WeightsMemory.MAPPED);
        openModels.put(model, opened);
        footprints.put(model, ModelFootprint.of(opened.model().weights()));
        return opened;
    }

    private Behavior<Command> onDrop(DropRange request) {
        Assigned a = ranges.get(new RangeKey(request.model(), request.fromLayer(), request.toLayer()));
        if (a != null) {
            ranges.remove(new RangeKey(request.model(), request.fromLayer(), request.toLayer()));
            getContext().stop(a.stage);
        }
        return this;
    }

    private Behavior<Command> onStageTerminated(StageTerminated terminated) {
        Assigned current = ranges.get(terminated.range());
        if (current != null && current.stage.equals(terminated.stage())) ranges.remove(terminated.range());
        liveStages.remove(terminated.stage());
        String model = terminated.range().model();
        boolean stillUsed = ranges.keySet().stream().anyMatch(k -> k.model().equals(model))
                || liveStages.containsValue(model);
        if (!stillUsed) {
            OpenedModel opened = openModels.remove(model);
            footprints.remove(model);
            if (opened != null) opened.close();
        }
        getContext().getLog().info("worker {} dropped {} layers [{}, {})", address, model,
                terminated.range().fromLayer(), terminated.range().toLayer());
        return this;
    }
}
