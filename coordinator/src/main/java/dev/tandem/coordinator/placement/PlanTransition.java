package dev.tandem.coordinator.placement;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.RebalanceProgress.Phase;
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
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * One plan change, run by the placement singleton as a child: describes the workers, computes the target plans
 * with {@link PlanChanges} (refusing impossible changes before anything is touched), has the new owners load
 * their ranges and warm them up, then hands the new plans to its parent ({@link PlacementManager.TransitionReady}),
 * which switches the schedulers, drains and drops the old stages. On failure it drops what it loaded and tells
 * the parent ({@link PlacementManager.TransitionFailed}). A proposal ({@link Intent.Propose}) only answers.
 */
public final class PlanTransition extends AbstractBehavior<PlanTransition.Command> {

    /** Why the plan changes. */
    public sealed interface Intent {
        /** A label for logs and the rebalance-events metric. */
        String kind();

        /** First plan (or recovery of the running one by a new singleton). */
        record Initial() implements Intent { public String kind() { return "initial"; } }

        /** Workers were lost: their ranges go to survivors or standbys. */
        record ReplaceLost(Set<String> lost) implements Intent { public String kind() { return "failover"; } }

        /** A worker joined: the automatic rule, if its gain is worth it. */
        record Join() implements Intent { public String kind() { return "join"; } }

        /** An operator's change. */
        record Admin(PlanChange change) implements Intent {
            public String kind() {
                return switch (change) {
                    case PlanChange.MoveRange m -> "move";
                    case PlanChange.AutoRebalance a -> "auto";
                    case PlanChange.DrainNode d -> "drain";
                };
            }
        }

        /** Only compute the automatic rule's proposals. */
        record Propose(ActorRef<PlacementManager.Proposals> replyTo) implements Intent { public String kind() { return "propose"; } }
    }

    public sealed interface Command {}

    /** The parent's current workers; a change that needs a worker that left is abandoned. */
    public record WorkersChanged(Set<String> addresses) implements Command {}

    private record Described(WorkerNode.WorkerDescription description) implements Command {}

    private record DescribeFailed(ActorRef<WorkerNode.Command> worker, String reason) implements Command {}

    private record Assigned(String address, WorkerNode.RangeAssigned result) implements Command {}

    private record AssignFailed(String address, String model, int from, int to, String reason) implements Command {}

    private record Warmed(StageActor.WarmedUp result) implements Command {}

    private record WarmFailed(String reason) implements Command {}

    private record RouteWarmed(RouteWarmUp.Finished result) implements Command {}

    /** A range of a model on a worker. */
    private record Placed(String model, String address, int from, int to) {}

    public static Behavior<Command> create(long id, Intent intent, Map<String, PipelinePlan> current,
                                           Set<ActorRef<WorkerNode.Command>> workers,
                                           Map<String, PlacementManager.ModelShape> shapes, CoordinatorSettings settings,
                                           ActorRef<PlacementManager.Command> parent, ActorRef<ChangeProgress> progress) {
        return Behaviors.setup(context -> new PlanTransition(context, id, intent, current, workers, shapes, settings,
                parent, progress));
    }

    private final long id;
    private final Intent intent;
    private final Map<String, PipelinePlan> current;
    private final Map<String, PlacementManager.ModelShape> shapes;
    private final CoordinatorSettings settings;
    private final ActorRef<PlacementManager.Command> parent;
    private final ActorRef<ChangeProgress> progress;

    private int awaitedDescriptions;
    private final List<WorkerNode.WorkerDescription> descriptions = new ArrayList<>();
    private final Map<String, ActorRef<WorkerNode.Command>> nodes = new HashMap<>();
    private Map<String, List<Balancer.Assignment>> targets = Map.of();
    private final Map<String, Long> versions = new HashMap<>();
    private final Map<Placed, ActorRef<StageActor.Command>> stages = new HashMap<>();
    private final Set<Placed> newlyLoaded = new HashSet<>();
    private int awaitedAssignments;
    private int totalAssignments;
    private int awaitedWarmUps;
    private int totalWarmUps;
    private int awaitedRouteWarmUps;
    private Map<String, PipelinePlan> readyPlans = Map.of();
    private boolean ended;

    private PlanTransition(ActorContext<Command> context, long id, Intent intent, Map<String, PipelinePlan> current,
                           Set<ActorRef<WorkerNode.Command>> workers, Map<String, PlacementManager.ModelShape> shapes,
                           CoordinatorSettings settings, ActorRef<PlacementManager.Command> parent,
                           ActorRef<ChangeProgress> progress) {
        super(context);
        this.id = id;
        this.intent = intent;
        this.current = Map.copyOf(current);
        this.shapes = new TreeMap<>(shapes);
        this.settings = settings;
        this.parent = parent;
        this.progress = progress;
        awaitedDescriptions = workers.size();
        for (ActorRef<WorkerNode.Command> worker : workers) {
            context.ask(WorkerNode.WorkerDescription.class, worker, settings.describeTimeout(), WorkerNode.Describe::new,
                    (d, failure) -> d != null ? new Described(d) : new DescribeFailed(worker, String.valueOf(failure)));
        }
        if (workers.isEmpty()) context.getSelf().tell(new DescribeFailed(null, "no workers"));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Described.class, d -> {
                    descriptions.add(d.description());
                    nodes.put(d.description().address(), d.description().node());
                    return described();
                })
                .onMessage(DescribeFailed.class, f -> {
                    if (f.worker() != null) getContext().getLog().warn("worker {} did not describe itself: {}", f.worker().path(), f.reason());
                    return described();
                })
                .onMessage(Assigned.class, this::onAssigned)
                .onMessage(AssignFailed.class, f -> fail(AdminException.Code.UNAVAILABLE, "worker " + f.address()
                        + " did not load " + f.model() + " " + f.from() + "-" + f.to() + ": " + f.reason()))
                .onMessage(Warmed.class, this::onWarmed)
                .onMessage(WarmFailed.class, f -> fail(AdminException.Code.UNAVAILABLE, "a new stage did not warm up: " + f.reason()))
                .onMessage(RouteWarmed.class, this::onRouteWarmed)
                .onMessage(WorkersChanged.class, this::onWorkersChanged)
                .build();
    }

    private Behavior<Command> described() {
        if (--awaitedDescriptions > 0) return this;
        descriptions.sort(Comparator.comparing(WorkerNode.WorkerDescription::address));
        try {
            return plan();
        } catch (AdminException e) {
            return fail(e.code(), e.getMessage());
        }
    }

    /** Computes the targets (or refuses), then loads them. */
    private Behavior<Command> plan() {
        List<PlanChanges.WorkerView> views = descriptions.stream().map(PlanChanges.WorkerView::of).toList();
        Map<String, List<Balancer.Assignment>> now = new TreeMap<>();
        current.forEach((model, plan) -> now.put(model, assignments(plan)));
        Map<String, List<Balancer.Assignment>> wanted = new TreeMap<>(now);
        switch (intent) {
            case Intent.Propose propose -> {
                List<PlanChanges.Proposal> proposals = new ArrayList<>();
                for (Map.Entry<String, List<Balancer.Assignment>> e : now.entrySet()) {
                    proposals.add(PlanChanges.propose(e.getKey(), shapes.get(e.getKey()), e.getValue(), views,
                            settings.rebalanceMinGain()));
                }
                propose.replyTo().tell(new PlacementManager.Proposals(proposals));
                return Behaviors.stopped();
            }
            case Intent.Initial initial -> {
                if (descriptions.isEmpty()) throw new AdminException(AdminException.Code.UNAVAILABLE, "no worker answered");
                Map<String, PipelinePlan> recovered = recover();
                if (recovered.size() == shapes.size()) {
                    getContext().getLog().info("recovered the running plans from the workers' stages: {}", recovered.keySet());
                    return handOver(recovered, "recovered the running plans from the workers' stages");
                }
                wanted.clear();
                wanted.putAll(initialPlans(views));
            }
            case Intent.ReplaceLost lost -> {
                Map<String, Long> reserved = new HashMap<>();
                for (Map.Entry<String, List<Balancer.Assignment>> e : now.entrySet()) {
                    try {
                        wanted.put(e.getKey(), PlanChanges.replace(e.getKey(), shapes.get(e.getKey()), e.getValue(),
                                lost.lost(), views, reserved));
                    } catch (AdminException refused) {
                        throw new AdminException(AdminException.Code.UNAVAILABLE, refused.getMessage());
                    }
                }
            }
            case Intent.Join join -> proposeInto(wanted, now, views);
            case Intent.Admin admin -> {
                switch (admin.change()) {
                    case PlanChange.MoveRange move -> {
                        PlacementManager.ModelShape shape = shapes.get(move.model());
                        if (shape == null) {
                            throw new AdminException(AdminException.Code.NOT_FOUND, "unknown model '" + move.model()
                                    + "'; models: " + String.join(", ", shapes.keySet()));
                        }
                        List<Balancer.Assignment> plan = now.get(move.model());
                        if (plan == null) {
                            throw new AdminException(AdminException.Code.UNAVAILABLE, "model " + move.model() + " is not placed yet");
                        }
                        if (!nodes.containsKey(move.node())) {
                            throw new AdminException(AdminException.Code.NOT_FOUND, "no worker at '" + move.node()
                                    + "'; workers: " + String.join(", ", nodes.keySet()));
                        }
                        wanted.put(move.model(), PlanChanges.move(plan, shape.layers(), move.fromLayer(), move.toLayer(), move.node()));
                    }
                    case PlanChange.AutoRebalance auto -> proposeInto(wanted, now, views);
                    case PlanChange.DrainNode drain -> {
                        if (!nodes.containsKey(drain.node())) {
                            boolean runsLayers = now.values().stream().flatMap(List::stream)
                                    .anyMatch(a -> a.workerId().equals(drain.node()));
                            if (runsLayers) {
                                throw new AdminException(AdminException.Code.UNAVAILABLE, "worker " + drain.node()
                                        + " runs layers but did not answer; it cannot be drained now");
                            }
                        }
                        Map<String, Long> reserved = new HashMap<>();
                        for (Map.Entry<String, List<Balancer.Assignment>> e : now.entrySet()) {
                            wanted.put(e.getKey(), PlanChanges.replace(e.getKey(), shapes.get(e.getKey()), e.getValue(),
                                    Set.of(drain.node()), views, reserved));
                        }
                    }
                }
            }
        }
        Map<String, List<Balancer.Assignment>> changed = new TreeMap<>();
        wanted.forEach((model, plan) -> {
            if (!plan.equals(now.get(model))) changed.put(model, plan);
        });
        if (changed.isEmpty()) {
            parent.tell(new PlacementManager.TransitionNoChange(id, noChangeMessage(views, now)));
            return Behaviors.stopped();
        }
        if (!(intent instanceof Intent.Initial)) PlanChanges.checkMemory(shapes, changed, views);
        targets = changed;
        load();
        return this;
    }

    private void proposeInto(Map<String, List<Balancer.Assignment>> wanted, Map<String, List<Balancer.Assignment>> now,
                             List<PlanChanges.WorkerView> views) {
        for (Map.Entry<String, List<Balancer.Assignment>> e : now.entrySet()) {
            PlanChanges.Proposal p = PlanChanges.propose(e.getKey(), shapes.get(e.getKey()), e.getValue(), views,
                    settings.rebalanceMinGain());
            if (p.apply()) wanted.put(e.getKey(), p.stages());
        }
    }

    private String noChangeMessage(List<PlanChanges.WorkerView> views, Map<String, List<Balancer.Assignment>> now) {
        if (intent instanceof Intent.Admin(PlanChange.DrainNode drain)) return "node " + drain.node() + " runs no layers";
        if (intent instanceof Intent.Admin(PlanChange.AutoRebalance a) || intent instanceof Intent.Join) {
            List<String> gains = new ArrayList<>();
            for (Map.Entry<String, List<Balancer.Assignment>> e : now.entrySet()) {
                PlanChanges.Proposal p = PlanChanges.propose(e.getKey(), shapes.get(e.getKey()), e.getValue(), views,
                        settings.rebalanceMinGain());
                gains.add(e.getKey() + " " + String.format("%+.0f%%", 100 * p.gain()));
            }
            return "no move: the best plan's predicted gain (" + String.join(", ", gains) + ") is below the threshold of "
                    + String.format("%.0f%%", 100 * settings.rebalanceMinGain());
        }
        return "the plan already is what was asked";
    }

    /** The first plan: every model split over the workers in address order (free memory shared between models). */
    private Map<String, List<Balancer.Assignment>> initialPlans(List<PlanChanges.WorkerView> views) {
        Map<String, Long> free = new LinkedHashMap<>();
        for (PlanChanges.WorkerView w : views) free.put(w.address(), w.freeBytes());
        Map<String, List<Balancer.Assignment>> plans = new TreeMap<>();
        for (Map.Entry<String, PlacementManager.ModelShape> model : shapes.entrySet()) {
            PlacementManager.ModelShape shape = model.getValue();
            List<Balancer.WorkerCapacity> capacities = views.stream().map(w -> new Balancer.WorkerCapacity(w.address(),
                    free.get(w.address()) + shape.footprint().unionBytes(w.held().getOrDefault(model.getKey(), List.of()),
                            shape.layers()), w.speed())).toList();
            try {
                List<Balancer.Assignment> plan = Balancer.plan(shape.layers(), shape.footprint(), shape.headCost(), capacities);
                for (Balancer.Assignment a : plan) {
                    free.merge(a.workerId(), -shape.footprint().rangeBytes(a.fromLayer(), a.toLayer(), shape.layers()), Long::sum);
                }
                plans.put(model.getKey(), plan);
            } catch (IllegalArgumentException e) {
                throw new AdminException(AdminException.Code.UNAVAILABLE, "cannot place " + model.getKey() + ": " + e.getMessage());
            }
        }
        return plans;
    }

    /** Plans rebuilt from the stages the workers run, for the models whose stages cover all their layers. */
    private Map<String, PipelinePlan> recover() {
        Map<String, PipelinePlan> recovered = new TreeMap<>();
        for (Map.Entry<String, PlacementManager.ModelShape> model : shapes.entrySet()) {
            List<PlanChanges.HeldStage> held = new ArrayList<>();
            for (WorkerNode.WorkerDescription d : descriptions) {
                for (WorkerNode.HeldRange r : d.ranges()) {
                    if (r.model().equals(model.getKey())) held.add(new PlanChanges.HeldStage(d.address(), r));
                }
            }
            Optional<List<PlanChanges.HeldStage>> chain = PlanChanges.recover(model.getValue().layers(), held);
            if (chain.isEmpty()) continue;
            long version = held.stream().mapToLong(h -> h.range().planVersion()).max().orElse(0) + 1;
            recovered.put(model.getKey(), new PipelinePlan(model.getKey(), model.getValue().layers(), version,
                    chain.get().stream().map(h -> new PipelinePlan.PlannedStage(h.address(), h.range().fromLayer(),
                            h.range().toLayer(), h.range().stage())).toList()));
        }
        return recovered;
    }

    private static List<Balancer.Assignment> assignments(PipelinePlan plan) {
        return plan.stages().stream().map(s -> new Balancer.Assignment(s.workerAddress(), s.fromLayer(), s.toLayer())).toList();
    }

    /** Every range of the target plans is (re)assigned with the new version; those not run before are loaded. */
    private void load() {
        for (Map.Entry<String, List<Balancer.Assignment>> e : targets.entrySet()) {
            String model = e.getKey();
            long known = descriptions.stream().flatMap(d -> d.ranges().stream()).filter(r -> r.model().equals(model))
                    .mapToLong(WorkerNode.HeldRange::planVersion).max().orElse(0);
            PipelinePlan plan = current.get(model);
            versions.put(model, Math.max(known, plan == null ? 0 : plan.version()) + 1);
            for (Balancer.Assignment a : e.getValue()) {
                getContext().getLog().info("{}: {} layers [{}, {}) on {}", intent.kind(), model, a.fromLayer(), a.toLayer(), a.workerId());
                if (!held(a.workerId(), model, a.fromLayer(), a.toLayer())) newlyLoaded.add(new Placed(model, a.workerId(), a.fromLayer(), a.toLayer()));
                awaitedAssignments++;
                ActorRef<WorkerNode.Command> node = nodes.get(a.workerId());
                long version = versions.get(model);
                getContext().ask(WorkerNode.RangeAssigned.class, node, settings.assignTimeout(),
                        replyTo -> new WorkerNode.AssignRange(model, a.fromLayer(), a.toLayer(), version, replyTo),
                        (r, failure) -> r != null ? new Assigned(a.workerId(), r)
                                : new AssignFailed(a.workerId(), model, a.fromLayer(), a.toLayer(), String.valueOf(failure)));
            }
        }
        totalAssignments = awaitedAssignments;
        report(Phase.LOADING, "loading " + newlyLoaded.size() + " new range(s): " + describe(newlyLoaded), 0);
    }

    private boolean held(String address, String model, int from, int to) {
        return descriptions.stream().filter(d -> d.address().equals(address)).flatMap(d -> d.ranges().stream())
                .anyMatch(r -> r.model().equals(model) && r.fromLayer() == from && r.toLayer() == to);
    }

    private static String describe(Set<Placed> ranges) {
        return ranges.stream().sorted(Comparator.comparing(Placed::model).thenComparingInt(Placed::from))
                .map(p -> p.model() + ":" + p.from() + "-" + p.to() + " on " + p.address()).toList().toString();
    }

    private Behavior<Command> onAssigned(Assigned assigned) {
        WorkerNode.RangeAssigned r = assigned.result();
        if (!r.ok()) {
            return fail(AdminException.Code.FAILED_PRECONDITION, "worker " + assigned.address() + " cannot run "
                    + r.model() + " " + r.fromLayer() + "-" + r.toLayer() + ": " + r.error());
        }
        stages.put(new Placed(r.model(), assigned.address(), r.fromLayer(), r.toLayer()), r.stage());
        awaitedAssignments--;
        report(Phase.LOADING, "loaded " + r.model() + ":" + r.fromLayer() + "-" + r.toLayer() + " on " + assigned.address(),
                LOAD_SHARE * (totalAssignments - awaitedAssignments) / totalAssignments);
        if (awaitedAssignments > 0) return this;
        for (Placed p : newlyLoaded) {
            awaitedWarmUps++;
            getContext().ask(StageActor.WarmedUp.class, stages.get(p), settings.assignTimeout(), StageActor.WarmUp::new,
                    (w, failure) -> w != null ? new Warmed(w) : new WarmFailed(String.valueOf(failure)));
        }
        totalWarmUps = awaitedWarmUps;
        if (awaitedWarmUps == 0) return ready();
        report(Phase.WARMING, "warming up " + totalWarmUps + " new stage(s)", LOAD_SHARE);
        return this;
    }

    /** Shares of the progress bar: loading, then warming; switching and draining take the rest. */
    private static final double LOAD_SHARE = 0.4;
    private static final double WARM_SHARE = 0.3;

    private Behavior<Command> onWarmed(Warmed warmed) {
        if (!warmed.result().ok()) return fail(AdminException.Code.UNAVAILABLE, "stage " + warmed.result().stage()
                + " failed to warm up: " + warmed.result().error());
        awaitedWarmUps--;
        report(Phase.WARMING, "warmed " + warmed.result().stage() + " in " + warmed.result().millis() + " ms",
                LOAD_SHARE + WARM_SHARE * (totalWarmUps - awaitedWarmUps) / totalWarmUps);
        return awaitedWarmUps == 0 ? ready() : this;
    }

    private Behavior<Command> ready() {
        Map<String, PipelinePlan> plans = new TreeMap<>();
        for (Map.Entry<String, List<Balancer.Assignment>> e : targets.entrySet()) {
            String model = e.getKey();
            plans.put(model, new PipelinePlan(model, shapes.get(model).layers(), versions.get(model), e.getValue().stream()
                    .map(a -> new PipelinePlan.PlannedStage(a.workerId(), a.fromLayer(), a.toLayer(),
                            stages.get(new Placed(model, a.workerId(), a.fromLayer(), a.toLayer())))).toList()));
        }
        readyPlans = plans;
        if (!warmsRoutes()) return handOverReady();
        ActorRef<RouteWarmUp.Finished> warmed = getContext().messageAdapter(RouteWarmUp.Finished.class, RouteWarmed::new);
        for (PipelinePlan plan : plans.values()) {
            boolean fresh = plan.stages().stream().anyMatch(s -> newlyLoaded.contains(new Placed(plan.model(), s.workerAddress(), s.fromLayer(), s.toLayer())));
            if (!fresh) continue;
            awaitedRouteWarmUps++;
            getContext().spawnAnonymous(RouteWarmUp.create(plan.model(), plan.route(), settings.rebalanceWarmUpSteps(),
                    settings.rebalanceWarmUpMaxDuration(), settings.rebalanceWarmUpSequences(), settings.stepTimeout(), warmed));
        }
        if (awaitedRouteWarmUps == 0) return handOverReady();
        report(Phase.WARMING, "running " + settings.rebalanceWarmUpSteps() + " steps through " + awaitedRouteWarmUps
                + " new route(s)", LOAD_SHARE + WARM_SHARE);
        return this;
    }

    /**
     * Whether new routes get made-up steps before the switch: on a rebalance, not on failover (the switch ends an
     * outage) nor on a first plan (the gateway's warm-up runs then).
     */
    private boolean warmsRoutes() {
        boolean rebalance = intent instanceof Intent.Join || intent instanceof Intent.Admin;
        return rebalance && !newlyLoaded.isEmpty() && settings.rebalanceWarmUpSteps() > 0;
    }

    private Behavior<Command> onRouteWarmed(RouteWarmed warmed) {
        RouteWarmUp.Finished r = warmed.result();
        if (r.ok()) {
            getContext().getLog().info("plan change {}: {} steps through the new route of {} in {} ms", id, r.steps(), r.model(), r.millis());
        } else {
            // Serving would meet the same stage; the switch decides, as it would have without the warm-up.
            getContext().getLog().warn("plan change {}: the new route of {} warmed up for {} steps, then: {}", id, r.model(), r.steps(), r.error());
        }
        return --awaitedRouteWarmUps > 0 ? this : handOverReady();
    }

    private Behavior<Command> handOverReady() {
        return handOver(readyPlans, intent.kind() + ": " + describe(newlyLoaded) + " ready");
    }

    /** Gives the new plans to the parent, with the stages no plan will use any more (dropped after the drain). */
    private Behavior<Command> handOver(Map<String, PipelinePlan> plans, String message) {
        Map<String, PipelinePlan> after = new TreeMap<>(current);
        after.putAll(plans);
        Set<Placed> keep = new HashSet<>();
        after.values().forEach(p -> p.stages().forEach(s -> keep.add(new Placed(p.model(), s.workerAddress(), s.fromLayer(), s.toLayer()))));
        List<PlacementManager.StaleRange> stale = new ArrayList<>();
        for (WorkerNode.WorkerDescription d : descriptions) {
            for (WorkerNode.HeldRange r : d.ranges()) {
                if (!keep.contains(new Placed(r.model(), d.address(), r.fromLayer(), r.toLayer()))) {
                    stale.add(new PlacementManager.StaleRange(d.node(), r.model(), r.fromLayer(), r.toLayer()));
                }
            }
        }
        ended = true;
        parent.tell(new PlacementManager.TransitionReady(id, plans, stale, message));
        return Behaviors.stopped();
    }

    private Behavior<Command> onWorkersChanged(WorkersChanged changed) {
        if (ended || awaitedDescriptions > 0) return this;
        for (List<Balancer.Assignment> plan : targets.values()) {
            for (Balancer.Assignment a : plan) {
                if (!changed.addresses().contains(a.workerId())) {
                    return fail(AdminException.Code.UNAVAILABLE, "worker " + a.workerId() + " left during the change; nothing was switched");
                }
            }
        }
        return this;
    }

    /** Drops what this change loaded (nothing was switched yet) and reports why. */
    private Behavior<Command> fail(AdminException.Code code, String message) {
        for (Placed p : newlyLoaded) {
            ActorRef<WorkerNode.Command> node = nodes.get(p.address());
            if (node != null) node.tell(new WorkerNode.DropRange(p.model(), p.from(), p.to()));
        }
        ended = true;
        parent.tell(new PlacementManager.TransitionFailed(id, code, message));
        return Behaviors.stopped();
    }

    private void report(Phase phase, String message, double fraction) {
        if (progress != null) progress.tell(new ChangeProgress.Progress(phase.name(), message, fraction));
    }
}
