package dev.tandem.worker;

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
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.protocol.KryoMessage;

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

    /** Run layers [fromLayer, toLayer) of a model here; answered with {@link RangeAssigned}. Idempotent. */
    public record AssignRange(String model, int fromLayer, int toLayer, ActorRef<RangeAssigned> replyTo)
            implements Command, KryoMessage {}

    /** Stop running a range (its KV caches go with it). */
    public record DropRange(String model, int fromLayer, int toLayer) implements Command, KryoMessage {}

    /**
     * A worker's capacity and state.
     *
     * @param freeMemoryBytes memory budget minus the weights of the assigned ranges and the KV caches in use
     * @param speedGflops     float32 multiply-add throughput of one stage's threads measured at start
     */
    public record WorkerDescription(ActorRef<Command> node, String address, long freeMemoryBytes, int threads,
                                    double speedGflops, List<StageActor.StageStatus> stages) implements KryoMessage {
        public WorkerDescription {
            stages = List.copyOf(stages);
        }
    }

    /** The stage of an assigned range, or the reason it could not be assigned ({@code stage} null then). */
    public record RangeAssigned(String model, int fromLayer, int toLayer, ActorRef<StageActor.Command> stage,
                                String error) implements KryoMessage {
        public boolean ok() { return stage != null; }
    }

    private record BenchmarkDone(double gflops) implements Command {}

    private record DescriptionReady(ActorRef<WorkerDescription> replyTo, List<StageActor.StageStatus> stages)
            implements Command {}

    private record StageTerminated(RangeKey range) implements Command {}

    private record RangeKey(String model, int fromLayer, int toLayer) {}

    private record Assigned(ActorRef<StageActor.Command> stage, long weightBytes) {}

    /** How long a describe waits for its stages' status. */
    private static final Duration STATUS_TIMEOUT = Duration.ofSeconds(3);
    private static final int STASH_CAPACITY = 1000;

    public static Behavior<Command> create(WorkerSettings settings) {
        return Behaviors.setup(context -> Behaviors.withStash(STASH_CAPACITY,
                stash -> new WorkerNode(context, stash, settings).benchmarking()));
    }

    private final WorkerSettings settings;
    private final StashBuffer<Command> stash;
    private final String address;
    private final DispatcherSelector stageDispatcher;
    private final Map<RangeKey, Assigned> ranges = new LinkedHashMap<>();
    private final Map<String, OpenedModel> openModels = new HashMap<>();
    private double speedGflops;

    private WorkerNode(ActorContext<Command> context, StashBuffer<Command> stash, WorkerSettings settings) {
        super(context);
        this.settings = settings;
        this.stash = stash;
        this.address = context.getSystem().address().toString();
        this.stageDispatcher = DispatcherSelector.fromConfig(settings.stageDispatcher());
        context.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, context.getSelf()));
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
            CompletionStage<StageActor.StageStatus> ask = AskPattern.ask(a.stage(), StageActor.GetStatus::new,
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
        long used = 0;
        for (Assigned a : ranges.values()) used += a.weightBytes();
        for (StageActor.StageStatus s : ready.stages()) used += s.kvBytesUsed();
        long free = Math.max(0, settings.effectiveMemoryBudget() - used);
        ready.replyTo().tell(new WorkerDescription(getContext().getSelf(), address, free, settings.effectiveThreads(),
                speedGflops, ready.stages()));
        return this;
    }

    private Behavior<Command> onAssign(AssignRange request) {
        RangeKey key = new RangeKey(request.model(), request.fromLayer(), request.toLayer());
        Assigned existing = ranges.get(key);
        if (existing != null) {
            request.replyTo().tell(new RangeAssigned(key.model(), key.fromLayer(), key.toLayer(), existing.stage(), ""));
            return this;
        }
        try {
            OpenedModel opened = open(request.model());
            int layers = opened.config().nLayers();
            if (request.fromLayer() < 0 || request.toLayer() > layers || request.fromLayer() >= request.toLayer()) {
                throw new IllegalArgumentException("layers [" + request.fromLayer() + ", " + request.toLayer()
                        + ") are not a range of the " + layers + " layers of " + request.model());
            }
            long weightBytes = ModelFootprint.of(opened.model().weights())
                    .rangeBytes(request.fromLayer(), request.toLayer(), layers);
            ActorRef<StageActor.Command> stage = getContext().spawn(
                    StageActor.create(request.model(), address, opened.model().weights(), request.fromLayer(),
                            request.toLayer(), settings),
                    StageActor.actorName(request.model(), request.fromLayer(), request.toLayer()), stageDispatcher);
            getContext().watchWith(stage, new StageTerminated(key));
            ranges.put(key, new Assigned(stage, weightBytes));
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
        opened = OpenedModel.open(spec, null, ProgressListener.NONE);
        openModels.put(model, opened);
        return opened;
    }

    private Behavior<Command> onDrop(DropRange request) {
        Assigned a = ranges.get(new RangeKey(request.model(), request.fromLayer(), request.toLayer()));
        if (a != null) getContext().stop(a.stage());
        return this;
    }

    private Behavior<Command> onStageTerminated(StageTerminated terminated) {
        ranges.remove(terminated.range());
        String model = terminated.range().model();
        boolean stillUsed = ranges.keySet().stream().anyMatch(k -> k.model().equals(model));
        if (!stillUsed) {
            OpenedModel opened = openModels.remove(model);
            if (opened != null) opened.close();
        }
        getContext().getLog().info("worker {} dropped {} layers [{}, {})", address, model,
                terminated.range().fromLayer(), terminated.range().toLayer());
        return this;
    }
}
