package dev.tandem.coordinator.placement;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.StageActor;
import dev.tandem.worker.WorkerNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Placement, run as a cluster singleton: discovers workers through the Receptionist, and once
 * {@code min-workers} are up, asks each for its description, splits every served model over them with the
 * {@link Balancer}, has each worker load its ranges, and publishes the resulting {@link PipelinePlan}s.
 *
 * <p>Distribution of the plan: schedulers (on any coordinator) send {@link SubscribePlans}; the singleton
 * answers with the current plans at once and pushes every new plan to its subscribers. Schedulers repeat
 * the subscription periodically (idempotent), so they find a singleton that moved to another node.
 * {@link GetPlans} answers a one-off query (status, ctl).
 *
 * <p>A new plan is made when a worker of the current plan leaves the cluster (its ranges go to the
 * workers that remain); ranges that are no longer planned are dropped on their workers.
 */
public final class PlacementManager extends AbstractBehavior<PlacementManager.Command> {

    public static final String SINGLETON_NAME = "tandem-placement";

    /** What placement needs to know of a model: its depth and its memory per layer. */
    public record ModelShape(int layers, ModelFootprint footprint) {}

    public sealed interface Command {}

    /** Pushes the current plans and every later plan to {@code subscriber}. */
    public record SubscribePlans(ActorRef<PipelinePlan> subscriber) implements Command, KryoMessage {}

    public record GetPlans(ActorRef<Plans> replyTo) implements Command, KryoMessage {}

    public record Plans(List<PipelinePlan> plans) implements KryoMessage {
        public Plans {
            plans = List.copyOf(plans);
        }
    }

    private record WorkersListed(Set<ActorRef<WorkerNode.Command>> workers) implements Command {}

    private record Described(long attempt, WorkerNode.WorkerDescription description) implements Command {}

    private record DescribeFailed(long attempt, ActorRef<WorkerNode.Command> worker, String reason) implements Command {}

    private record Assigned(long attempt, ActorRef<WorkerNode.Command> worker, WorkerNode.RangeAssigned result)
            implements Command {}

    private record AssignFailed(long attempt, String reason) implements Command {}

    private enum Replan implements Command { INSTANCE }

    private record SubscriberTerminated(ActorRef<PipelinePlan> subscriber) implements Command {}

    private record RangeOnWorker(ActorRef<WorkerNode.Command> worker, String model, int fromLayer, int toLayer) {}

    public static Behavior<Command> create(CoordinatorSettings settings, Map<String, ModelShape> models) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> new PlacementManager(context, timers, settings, models)));
    }

    private final TimerScheduler<Command> timers;
    private final CoordinatorSettings settings;
    private final Map<String, ModelShape> models;
    private final Set<ActorRef<PipelinePlan>> subscribers = new HashSet<>();
    private final Map<String, PipelinePlan> plans = new TreeMap<>();
    /** Ranges of the current plans, per worker (to drop them when a new plan moves them). */
    private final Set<RangeOnWorker> plannedRanges = new HashSet<>();
    private Set<ActorRef<WorkerNode.Command>> workers = Set.of();

    // The planning attempt under way (replies of older attempts are ignored).
    private long attempt;
    private boolean planning;
    private boolean workersChangedWhilePlanning;
    private int awaitedDescriptions;
    private final List<WorkerNode.WorkerDescription> descriptions = new ArrayList<>();
    private int awaitedAssignments;
    private final Map<RangeOnWorker, ActorRef<StageActor.Command>> assignedStages = new HashMap<>();
    private final Map<RangeOnWorker, String> assignedAddresses = new HashMap<>();

    private PlacementManager(ActorContext<Command> context, TimerScheduler<Command> timers, CoordinatorSettings settings,
                             Map<String, ModelShape> models) {
        super(context);
        this.timers = timers;
        this.settings = settings;
        this.models = new TreeMap<>(models);
        ActorRef<Receptionist.Listing> listings = context.messageAdapter(Receptionist.Listing.class,
                listing -> new WorkersListed(listing.getServiceInstances(WorkerNode.SERVICE_KEY)));
        context.getSystem().receptionist().tell(Receptionist.subscribe(WorkerNode.SERVICE_KEY, listings));
        context.getLog().info("placement started; waiting for {} worker(s)", settings.minWorkers());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(SubscribePlans.class, this::onSubscribe)
                .onMessage(GetPlans.class, query -> {
                    query.replyTo().tell(new Plans(List.copyOf(plans.values())));
                    return this;
                })
                .onMessage(SubscriberTerminated.class, t -> {
                    subscribers.remove(t.subscriber());
                    return this;
                })
                .onMessage(WorkersListed.class, this::onWorkers)
                .onMessage(Described.class, this::onDescribed)
                .onMessage(DescribeFailed.class, this::onDescribeFailed)
                .onMessage(Assigned.class, this::onAssigned)
                .onMessage(AssignFailed.class, failed -> {
                    if (failed.attempt() == attempt && planning) abandon("a worker did not load its range: " + failed.reason());
                    return this;
                })
                .onMessage(Replan.class, r -> {
                    maybePlan(true);
                    return this;
                })
                .build();
    }

    private Behavior<Command> onSubscribe(SubscribePlans subscribe) {
        if (subscribers.add(subscribe.subscriber())) {
            getContext().watchWith(subscribe.subscriber(), new SubscriberTerminated(subscribe.subscriber()));
        }
        plans.values().forEach(subscribe.subscriber()::tell);
        return this;
    }

    private Behavior<Command> onWorkers(WorkersListed listed) {
        workers = listed.workers();
        getContext().getLog().info("{} worker(s) registered", workers.size());
        if (planning) {
            workersChangedWhilePlanning = true;
            return this;
        }
        maybePlan(false);
        return this;
    }

    /** Plans when there is no plan yet, or a planned worker is gone (or {@code force} after a failed attempt). */
    private void maybePlan(boolean force) {
        if (planning || workers.size() < settings.minWorkers()) return;
        boolean workerLost = plannedRanges.stream().anyMatch(r -> !workers.contains(r.worker()));
        if (!force && !plans.isEmpty() && !workerLost) return;
        startPlanning();
    }

    private void startPlanning() {
        attempt++;
        planning = true;
        workersChangedWhilePlanning = false;
        descriptions.clear();
        awaitedDescriptions = workers.size();
        long current = attempt;
        for (ActorRef<WorkerNode.Command> worker : workers) {
            getContext().ask(WorkerNode.WorkerDescription.class, worker, settings.describeTimeout(),
                    WorkerNode.Describe::new,
                    (description, failure) -> description != null ? new Described(current, description)
                            : new DescribeFailed(current, worker, String.valueOf(failure)));
        }
    }

    private Behavior<Command> onDescribed(Described described) {
        if (described.attempt() != attempt || !planning) return this;
        descriptions.add(described.description());
        awaitedDescriptions--;
        if (awaitedDescriptions == 0) assign();
        return this;
    }

    private Behavior<Command> onDescribeFailed(DescribeFailed failed) {
        if (failed.attempt() != attempt || !planning) return this;
        getContext().getLog().warn("worker {} did not describe itself: {}", failed.worker().path(), failed.reason());
        awaitedDescriptions--;
        if (awaitedDescriptions == 0) assign();
        return this;
    }

    /** Splits every model over the described workers (by address order) and has them load their ranges. */
    private void assign() {
        if (descriptions.size() < settings.minWorkers()) {
            abandon(descriptions.size() + " worker(s) answered, " + settings.minWorkers() + " needed");
            return;
        }
        descriptions.sort(Comparator.comparing(WorkerNode.WorkerDescription::address));
        Map<String, Long> free = new LinkedHashMap<>();
        Map<String, ActorRef<WorkerNode.Command>> nodes = new HashMap<>();
        for (WorkerNode.WorkerDescription d : descriptions) {
            // Ranges this worker already runs are counted as used; those that stay in the plan cost nothing new.
            free.put(d.address(), d.freeMemoryBytes());
            nodes.put(d.address(), d.node());
        }
        assignedStages.clear();
        assignedAddresses.clear();
        List<RangeOnWorker> ranges = new ArrayList<>();
        try {
            for (Map.Entry<String, ModelShape> model : models.entrySet()) {
                ModelShape shape = model.getValue();
                List<Balancer.WorkerCapacity> capacities = descriptions.stream()
                        .map(d -> new Balancer.WorkerCapacity(d.address(), free.get(d.address()), d.speedGflops()))
                        .toList();
                for (Balancer.Assignment a : Balancer.plan(shape.layers(), shape.footprint(), capacities)) {
                    free.merge(a.workerId(), -shape.footprint().rangeBytes(a.fromLayer(), a.toLayer(), shape.layers()), Long::sum);
                    RangeOnWorker range = new RangeOnWorker(nodes.get(a.workerId()), model.getKey(), a.fromLayer(), a.toLayer());
                    ranges.add(range);
                    assignedAddresses.put(range, a.workerId());
                }
            }
        } catch (IllegalArgumentException e) {
            abandon(e.getMessage());
            return;
        }
        awaitedAssignments = ranges.size();
        long current = attempt;
        for (RangeOnWorker range : ranges) {
            getContext().getLog().info("placing {} layers [{}, {}) on {}", range.model(), range.fromLayer(),
                    range.toLayer(), assignedAddresses.get(range));
            getContext().ask(WorkerNode.RangeAssigned.class, range.worker(), settings.assignTimeout(),
                    replyTo -> new WorkerNode.AssignRange(range.model(), range.fromLayer(), range.toLayer(), replyTo),
                    (result, failure) -> result != null ? new Assigned(current, range.worker(), result)
                            : new AssignFailed(current, String.valueOf(failure)));
        }
    }

    private Behavior<Command> onAssigned(Assigned assigned) {
        if (assigned.attempt() != attempt || !planning) return this;
        WorkerNode.RangeAssigned result = assigned.result();
        if (!result.ok()) {
            abandon("worker " + assigned.worker().path() + " cannot run " + result.model() + " [" + result.fromLayer()
                    + ", " + result.toLayer() + "): " + result.error());
            return this;
        }
        assignedStages.put(new RangeOnWorker(assigned.worker(), result.model(), result.fromLayer(), result.toLayer()),
                result.stage());
        awaitedAssignments--;
        if (awaitedAssignments == 0) publish();
        return this;
    }

    private void publish() {
        Map<String, List<PipelinePlan.PlannedStage>> stages = new TreeMap<>();
        for (Map.Entry<RangeOnWorker, ActorRef<StageActor.Command>> e : assignedStages.entrySet()) {
            RangeOnWorker r = e.getKey();
            stages.computeIfAbsent(r.model(), m -> new ArrayList<>()).add(new PipelinePlan.PlannedStage(
                    assignedAddresses.get(r), r.fromLayer(), r.toLayer(), e.getValue()));
        }
        for (RangeOnWorker old : plannedRanges) {
            if (!assignedStages.containsKey(old) && workers.contains(old.worker())) {
                old.worker().tell(new WorkerNode.DropRange(old.model(), old.fromLayer(), old.toLayer()));
            }
        }
        plannedRanges.clear();
        plannedRanges.addAll(assignedStages.keySet());
        for (Map.Entry<String, List<PipelinePlan.PlannedStage>> e : stages.entrySet()) {
            List<PipelinePlan.PlannedStage> ordered = e.getValue().stream()
                    .sorted(Comparator.comparingInt(PipelinePlan.PlannedStage::fromLayer)).toList();
            PipelinePlan previous = plans.get(e.getKey());
            PipelinePlan plan = new PipelinePlan(e.getKey(), models.get(e.getKey()).layers(),
                    previous == null ? 1 : previous.version() + 1, ordered);
            plans.put(e.getKey(), plan);
            getContext().getLog().info("plan v{} of {}: {}", plan.version(), plan.model(), ordered.stream()
                    .map(s -> "[" + s.fromLayer() + "," + s.toLayer() + ")@" + s.workerAddress()).toList());
            subscribers.forEach(s -> s.tell(plan));
        }
        planning = false;
        if (workersChangedWhilePlanning) maybePlan(false);
    }

    private void abandon(String reason) {
        getContext().getLog().warn("placement attempt {} failed ({}); retrying in {}", attempt, reason, settings.replanDelay());
        planning = false;
        timers.startSingleTimer(Replan.INSTANCE, Replan.INSTANCE, settings.replanDelay());
    }
}
