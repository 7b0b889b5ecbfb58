package dev.tandem.coordinator.placement;

import akka.actor.Address;
import akka.actor.AddressFromURIString;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Leave;
import dev.tandem.coordinator.CoordinatorMetrics;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.RebalanceProgress.Phase;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.WorkerNode;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/**
 * Placement, run as a cluster singleton: owns the {@link PipelinePlan}s and changes them one
 * {@link PlanTransition} at a time.
 *
 * <p>Changes: the first plan (or, after a singleton handover, the running plan recovered from the workers'
 * stages: nothing is reloaded), failover when a worker of a plan is gone, the automatic rule when a worker
 * joins, and operators' {@link ChangePlan}s (move, auto, drain). A transition loads and warms the new ranges;
 * then this actor publishes the new plan versions (schedulers switch at their next step boundary), waits until
 * every subscribed scheduler of the model reports {@link PlanAdopted} (no step in flight on an older route) or
 * {@code rebalance.drain-timeout} passes, and drops the stages no plan uses any more.
 *
 * <p>Distribution of the plan: schedulers send {@link SubscribePlans} (answered at once, pushed on every change)
 * and repeat it periodically, so they find a singleton that moved. {@link GetPlans} answers a one-off query.
 */
public final class PlacementManager extends AbstractBehavior<PlacementManager.Command> {

    public static final String SINGLETON_NAME = "tandem-placement";

    /** What placement needs to know of a model: its depth and its memory per layer. */
    /** A model as placement sees it: its layers, their sizes, and what its output head costs a stage, in layers. */
    public record ModelShape(int layers, ModelFootprint footprint, double headCost) {}

    public sealed interface Command {}

    /** Pushes the current plan of {@code model} and every later one to {@code subscriber}. */
    public record SubscribePlans(String model, ActorRef<PipelinePlan> subscriber) implements Command, KryoMessage {}

    public record GetPlans(ActorRef<Plans> replyTo) implements Command, KryoMessage {}

    public record Plans(List<PipelinePlan> plans) implements KryoMessage {
        public Plans {
            plans = List.copyOf(plans);
        }
    }

    /** A scheduler runs {@code version} of its model's plan and has no step in flight on an older route. */
    public record PlanAdopted(String model, long version, ActorRef<PipelinePlan> subscriber) implements Command, KryoMessage {}

    /** An operator's change; progress and the outcome go to {@code progress}. */
    public record ChangePlan(PlanChange change, ActorRef<ChangeProgress> progress) implements Command, KryoMessage {}

    /** The automatic rule's proposals for every placed model (nothing is changed). */
    public record ProposePlans(ActorRef<Proposals> replyTo) implements Command, KryoMessage {}

    public record Proposals(List<PlanChanges.Proposal> proposals) implements KryoMessage {
        public Proposals {
            proposals = List.copyOf(proposals);
        }
    }

    /** From a {@link PlanTransition}: the new plans are loaded and warm. */
    record TransitionReady(long id, Map<String, PipelinePlan> plans, List<StaleRange> stale, String message) implements Command {}

    record TransitionFailed(long id, AdminException.Code code, String message) implements Command {}

    record TransitionNoChange(long id, String message) implements Command {}

    /** A range a worker runs that no plan uses after the change; dropped once the old routes drained. */
    record StaleRange(ActorRef<WorkerNode.Command> worker, String model, int fromLayer, int toLayer) {}

    private record WorkersListed(Set<ActorRef<WorkerNode.Command>> workers) implements Command {}

    private record DrainTimedOut(long id) implements Command {}

    private enum Reevaluate implements Command { INSTANCE }

    private record SubscriberTerminated(ActorRef<PipelinePlan> subscriber) implements Command {}

    /** The change under way: from its transition's start to the drop of the old stages. */
    private static final class Change {
        final long id;
        final PlanTransition.Intent intent;
        final ActorRef<ChangeProgress> progress;
        final ActorRef<PlanTransition.Command> transition;
        final long startedNanos;
        /** Subscribers that still run an older route, per model, once the new plans are published. */
        final Map<ActorRef<PipelinePlan>, String> awaitedAdoptions = new HashMap<>();
        Map<String, PipelinePlan> published = Map.of();
        List<StaleRange> stale = List.of();
        String message = "";

        Change(long id, PlanTransition.Intent intent, ActorRef<ChangeProgress> progress,
               ActorRef<PlanTransition.Command> transition) {
            this.id = id;
            this.intent = intent;
            this.progress = progress;
            this.transition = transition;
            this.startedNanos = System.nanoTime();
        }
    }

    public static Behavior<Command> create(CoordinatorSettings settings, Map<String, ModelShape> models) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> new PlacementManager(context, timers, settings, models)));
    }

    private final TimerScheduler<Command> timers;
    private final CoordinatorSettings settings;
    private final Map<String, ModelShape> models;
    private final CoordinatorMetrics metrics;
    /** Subscribed schedulers and the model each schedules. */
    private final Map<ActorRef<PipelinePlan>, String> subscribers = new HashMap<>();
    private final Map<String, PipelinePlan> plans = new TreeMap<>();
    private Set<ActorRef<WorkerNode.Command>> workers = Set.of();
    /** Workers already considered by the join rule (a worker that joins is offered layers once). */
    private final Set<String> seenWorkers = new HashSet<>();
    private Change change;
    private long nextChangeId = 1;

    private PlacementManager(ActorContext<Command> context, TimerScheduler<Command> timers, CoordinatorSettings settings,
                             Map<String, ModelShape> models) {
        super(context);
        this.timers = timers;
        this.settings = settings;
        this.models = new TreeMap<>(models);
        this.metrics = CoordinatorMetrics.of(context.getSystem());
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
                    if (change != null && change.awaitedAdoptions.remove(t.subscriber()) != null) maybeDrained();
                    return this;
                })
                .onMessage(PlanAdopted.class, this::onAdopted)
                .onMessage(ChangePlan.class, this::onChangePlan)
                .onMessage(ProposePlans.class, this::onPropose)
                .onMessage(WorkersListed.class, this::onWorkers)
                .onMessage(TransitionReady.class, this::onReady)
                .onMessage(TransitionFailed.class, this::onFailed)
                .onMessage(TransitionNoChange.class, this::onNoChange)
                .onMessage(DrainTimedOut.class, timedOut -> {
                    if (change != null && change.id == timedOut.id() && !change.awaitedAdoptions.isEmpty()) {
                        getContext().getLog().warn("{} schedulers did not confirm the switch in {}; dropping the old stages",
                                change.awaitedAdoptions.size(), settings.drainTimeout());
                        change.awaitedAdoptions.clear();
                        maybeDrained();
                    }
                    return this;
                })
                .onMessage(Reevaluate.class, r -> {
                    evaluate();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onSubscribe(SubscribePlans subscribe) {
        if (subscribers.put(subscribe.subscriber(), subscribe.model()) == null) {
            getContext().watchWith(subscribe.subscriber(), new SubscriberTerminated(subscribe.subscriber()));
        }
        PipelinePlan plan = plans.get(subscribe.model());
        if (plan != null) subscribe.subscriber().tell(plan);
        return this;
    }

    private Behavior<Command> onAdopted(PlanAdopted adopted) {
        if (change == null) return this;
        String model = change.awaitedAdoptions.get(adopted.subscriber());
        PipelinePlan published = model == null ? null : change.published.get(model);
        if (published != null && adopted.version() >= published.version()) {
            change.awaitedAdoptions.remove(adopted.subscriber());
            maybeDrained();
        }
        return this;
    }

    private Behavior<Command> onWorkers(WorkersListed listed) {
        workers = listed.workers();
        getContext().getLog().info("{} worker(s) registered", workers.size());
        if (change != null && change.transition != null) {
            change.transition.tell(new PlanTransition.WorkersChanged(liveAddresses()));
        }
        evaluate();
        return this;
    }

    private Set<String> liveAddresses() {
        Set<String> addresses = new HashSet<>();
        for (ActorRef<WorkerNode.Command> w : workers) addresses.add(addressOf(w));
        return addresses;
    }

    /** A worker's address as it describes itself (a local ref has no host; it is this node's address). */
    private String addressOf(ActorRef<?> ref) {
        Address address = ref.path().address();
        return address.hasGlobalScope() ? address.toString() : getContext().getSystem().address().toString();
    }

    /** Starts what the cluster needs, when no change is under way: a first plan, a failover, or the join rule. */
    private void evaluate() {
        if (change != null) return;
        if (plans.size() < models.size()) {
            if (workers.size() >= settings.minWorkers()) start(new PlanTransition.Intent.Initial(), null);
            return;
        }
        Set<String> live = liveAddresses();
        Set<String> lost = plans.values().stream().flatMap(p -> p.stages().stream()).map(PipelinePlan.PlannedStage::workerAddress)
                .filter(a -> !live.contains(a)).collect(Collectors.toCollection(HashSet::new));
        if (!lost.isEmpty()) {
            getContext().getLog().warn("worker(s) {} of the plan are gone; reassigning their ranges", lost);
            start(new PlanTransition.Intent.ReplaceLost(lost), null);
            return;
        }
        Set<String> joined = new HashSet<>(live);
        joined.removeAll(seenWorkers);
        seenWorkers.addAll(live);
        seenWorkers.retainAll(live);
        if (!joined.isEmpty() && settings.rebalanceOnJoin()) {
            getContext().getLog().info("worker(s) {} joined; applying the automatic rule", joined);
            start(new PlanTransition.Intent.Join(), null);
        }
    }

    private void start(PlanTransition.Intent intent, ActorRef<ChangeProgress> progress) {
        long id = nextChangeId++;
        ActorRef<PlanTransition.Command> transition = getContext().spawn(PlanTransition.create(id, intent, plans, workers,
                models, settings, getContext().getSelf(), progress), "transition-" + id);
        change = new Change(id, intent, progress, transition);
        if (intent instanceof PlanTransition.Intent.Initial) seenWorkers.addAll(liveAddresses());
    }

    private Behavior<Command> onChangePlan(ChangePlan request) {
        if (change != null) {
            request.progress().tell(new ChangeProgress.Refused(AdminException.Code.FAILED_PRECONDITION.name(),
                    "another plan change (" + change.intent.kind() + ") is under way; retry when it is done"));
            return this;
        }
        if (plans.size() < models.size()) {
            request.progress().tell(new ChangeProgress.Refused(AdminException.Code.UNAVAILABLE.name(),
                    "the models are not placed yet (" + workers.size() + " worker(s) registered)"));
            return this;
        }
        if (request.change() instanceof PlanChange.DrainNode drain) {
            Address address;
            try {
                address = AddressFromURIString.parse(drain.node());
            } catch (Exception e) { // a MalformedURLException, thrown without being declared

                request.progress().tell(new ChangeProgress.Refused(AdminException.Code.INVALID_ARGUMENT.name(),
                        "'" + drain.node() + "' is not a node address (akka://SYSTEM@HOST:PORT, as status prints it)"));
                return this;
            }
            boolean member = StreamSupport.stream(Cluster.get(getContext().getSystem()).state().getMembers().spliterator(), false)
                    .map(Member::address).anyMatch(address::equals);
            if (!member) {
                request.progress().tell(new ChangeProgress.Refused(AdminException.Code.NOT_FOUND.name(),
                        "no cluster member at " + drain.node()));
                return this;
            }
        }
        start(new PlanTransition.Intent.Admin(request.change()), request.progress());
        return this;
    }

    private Behavior<Command> onPropose(ProposePlans query) {
        getContext().spawnAnonymous(PlanTransition.create(0, new PlanTransition.Intent.Propose(query.replyTo()), plans,
                workers, models, settings, getContext().getSelf(), null));
        return this;
    }

    /** Publishes the new plans (the switch), then waits for the schedulers to leave the old routes. */
    private Behavior<Command> onReady(TransitionReady ready) {
        if (change == null || change.id != ready.id()) return this;
        change.published = ready.plans();
        change.stale = ready.stale();
        change.message = ready.message();
        report(Phase.SWITCHING, "switching to " + ready.plans().values().stream()
                .map(p -> p.model() + " v" + p.version()).toList(), 0.75);
        for (PipelinePlan plan : ready.plans().values()) {
            plans.put(plan.model(), plan);
            getContext().getLog().info("plan v{} of {} ({}): {}", plan.version(), plan.model(), change.intent.kind(),
                    plan.stages().stream().map(s -> "[" + s.fromLayer() + "," + s.toLayer() + ")@" + s.workerAddress()).toList());
            subscribers.forEach((subscriber, model) -> {
                if (model.equals(plan.model())) {
                    subscriber.tell(plan);
                    change.awaitedAdoptions.put(subscriber, model);
                }
            });
        }
        report(Phase.DRAINING, "waiting for " + change.awaitedAdoptions.size() + " scheduler(s) to leave the old routes", 0.85);
        timers.startSingleTimer(new DrainTimedOut(change.id), settings.drainTimeout());
        maybeDrained();
        return this;
    }

    private void maybeDrained() {
        if (change == null || change.published.isEmpty() || !change.awaitedAdoptions.isEmpty()) return;
        Set<ActorRef<WorkerNode.Command>> live = workers;
        for (StaleRange r : change.stale) {
            if (live.contains(r.worker())) r.worker().tell(new WorkerNode.DropRange(r.model(), r.fromLayer(), r.toLayer()));
        }
        double seconds = (System.nanoTime() - change.startedNanos) / 1e9;
        getContext().getLog().info("plan change {} done in {} s: {}", change.intent.kind(), String.format("%.2f", seconds), change.message);
        metrics.rebalanceEvent(change.intent.kind(), "done", seconds);
        finish(change.message);
    }

    private Behavior<Command> onNoChange(TransitionNoChange noChange) {
        if (change == null || change.id != noChange.id()) return this;
        getContext().getLog().info("plan change {}: {}", change.intent.kind(), noChange.message());
        metrics.rebalanceEvent(change.intent.kind(), "unchanged", (System.nanoTime() - change.startedNanos) / 1e9);
        finish(noChange.message());
        return this;
    }

    private Behavior<Command> onFailed(TransitionFailed failed) {
        if (change == null || change.id != failed.id()) return this;
        getContext().getLog().warn("plan change {} refused: {}", change.intent.kind(), failed.message());
        metrics.rebalanceEvent(change.intent.kind(), "refused", (System.nanoTime() - change.startedNanos) / 1e9);
        if (change.progress != null) {
            change.progress.tell(new ChangeProgress.Refused(failed.code().name(), failed.message()));
        }
        boolean automatic = !(change.intent instanceof PlanTransition.Intent.Admin);
        change = null;
        // A first plan or a failover is retried (a worker with room may join); an operator's change is not.
        if (automatic) timers.startSingleTimer(Reevaluate.INSTANCE, settings.replanDelay());
        else evaluate();
        return this;
    }

    /** Reports DONE (after a drain with leave, the node is asked to leave first), then looks for further work. */
    private void finish(String message) {
        if (change.intent instanceof PlanTransition.Intent.Admin(PlanChange.DrainNode drain) && drain.leave()) {
            report(Phase.LEAVING, drain.node() + " leaves the cluster", 0.95);
            Cluster.get(getContext().getSystem()).manager().tell(Leave.create(AddressFromURIString.parse(drain.node())));
            message = message + "; " + drain.node() + " is leaving the cluster";
        }
        report(Phase.DONE, message, 1.0);
        if (change.progress != null) change.progress.tell(new ChangeProgress.Completed(message));
        change = null;
        evaluate();
    }

    private void report(Phase phase, String message, double fraction) {
        if (change != null && change.progress != null) {
            change.progress.tell(new ChangeProgress.Progress(phase.name(), message, fraction));
        }
    }
}
