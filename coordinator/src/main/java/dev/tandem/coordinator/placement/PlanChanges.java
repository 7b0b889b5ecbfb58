package dev.tandem.coordinator.placement;

import dev.tandem.coordinator.api.AdminException;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.WorkerNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The pure planning rules behind every plan change (no actors; deterministic for the same input): moving a
 * range, the automatic rule, draining a node, replacing lost workers, recovering a plan from the workers'
 * stages, and the memory check that refuses a change up front. Plans are lists of {@link Balancer.Assignment}
 * in layer order, keyed by worker address.
 */
public final class PlanChanges {

    /**
     * A worker as a plan change sees it.
     *
     * @param held the layer ranges it runs now, per model (all of them: also those of no plan)
     */
    public record WorkerView(String address, long freeBytes, double speed, Map<String, List<ModelFootprint.Span>> held) {
        public WorkerView {
            held = Map.copyOf(held);
        }

        boolean idle() { return held.values().stream().allMatch(List::isEmpty); }

        static WorkerView of(WorkerNode.WorkerDescription d) {
            Map<String, List<ModelFootprint.Span>> held = new HashMap<>();
            for (WorkerNode.HeldRange r : d.ranges()) {
                held.computeIfAbsent(r.model(), m -> new ArrayList<>()).add(new ModelFootprint.Span(r.fromLayer(), r.toLayer()));
            }
            return new WorkerView(d.address(), d.freeMemoryBytes(), d.speedGflops(), held);
        }
    }

    /** The automatic rule's answer for one model. */
    public record Proposal(String model, List<Balancer.Assignment> stages, double currentBottleneck,
                           double proposedBottleneck, double gain, boolean apply) {}

    private PlanChanges() {}

    /**
     * Layers [from, to) go to {@code node}; the parts of the current stages outside the range stay with their
     * workers (a stage is split when the range cuts it).
     */
    public static List<Balancer.Assignment> move(List<Balancer.Assignment> current, int layers, int from, int to, String node) {
        if (from < 0 || to > layers || from >= to) {
            throw new AdminException(AdminException.Code.INVALID_ARGUMENT, "layers " + from + "-" + to
                    + " are not a range of the model's " + layers + " layers (FROM inclusive, TO exclusive, 0 <= FROM < TO <= " + layers + ")");
        }
        boolean alreadyThere = current.stream().filter(a -> a.fromLayer() < to && a.toLayer() > from)
                .allMatch(a -> a.workerId().equals(node) && a.fromLayer() >= from && a.toLayer() <= to)
                && current.stream().anyMatch(a -> a.fromLayer() == from && a.toLayer() == to && a.workerId().equals(node));
        if (alreadyThere) {
            throw new AdminException(AdminException.Code.FAILED_PRECONDITION,
                    "layers " + from + "-" + to + " already run on " + node + " as one stage; nothing to move");
        }
        List<Balancer.Assignment> target = new ArrayList<>();
        for (Balancer.Assignment a : current) {
            if (a.fromLayer() < from) target.add(new Balancer.Assignment(a.workerId(), a.fromLayer(), Math.min(a.toLayer(), from)));
            if (a.toLayer() > to) target.add(new Balancer.Assignment(a.workerId(), Math.max(a.fromLayer(), to), a.toLayer()));
        }
        target.add(new Balancer.Assignment(node, from, to));
        target.sort(Comparator.comparingInt(Balancer.Assignment::fromLayer));
        return List.copyOf(target);
    }

    /**
     * The slowest stage's predicted time per token: max over stages of its work / speed (speeds relative), a stage's
     * work being its layers plus, on the last stage, the head's cost in layers.
     */
    public static double bottleneck(List<Balancer.Assignment> plan, Map<String, Double> speeds, PlacementManager.ModelShape shape) {
        double fastest = speeds.values().stream().mapToDouble(Double::doubleValue).max().orElse(1);
        double worst = 0;
        for (Balancer.Assignment a : plan) {
            double speed = speeds.getOrDefault(a.workerId(), 0.0);
            double relative = fastest > 0 && speed > 0 ? speed / fastest : MIN_RELATIVE_SPEED;
            double work = a.layers() + (a.toLayer() == shape.layers() ? shape.headCost() : 0);
            worst = Math.max(worst, work / relative);
        }
        return worst;
    }

    private static final double MIN_RELATIVE_SPEED = 1e-3;

    /**
     * The automatic rule: split the model over all workers in proportion to their speeds (the {@link Balancer};
     * the current pipeline's workers keep their order, new ones follow by address), and apply it only when it
     * lowers the slowest stage's time by at least {@code minGain} (0.2 = 20% more throughput), so that small
     * gains never cause a move. Memory caps count a worker's current ranges of the model as free (they are
     * replaced).
     */
    public static Proposal propose(String model, PlacementManager.ModelShape shape, List<Balancer.Assignment> current,
                                   List<WorkerView> workers, double minGain) {
        List<WorkerView> ordered = pipelineOrder(current, workers);
        List<Balancer.WorkerCapacity> capacities = ordered.stream().map(w -> new Balancer.WorkerCapacity(w.address(),
                w.freeBytes() + shape.footprint().unionBytes(w.held().getOrDefault(model, List.of()), shape.layers()),
                w.speed())).toList();
        Map<String, Double> speeds = speeds(workers);
        double now = bottleneck(current, speeds, shape);
        List<Balancer.Assignment> proposed;
        try {
            proposed = Balancer.plan(shape.layers(), shape.footprint(), shape.headCost(), capacities);
        } catch (IllegalArgumentException e) {
            return new Proposal(model, current, now, now, 0, false);
        }
        double next = bottleneck(proposed, speeds, shape);
        double gain = next > 0 ? now / next - 1 : 0;
        boolean changes = !proposed.equals(current);
        return new Proposal(model, proposed, now, next, gain, changes && gain >= minGain);
    }

    /** Workers of the current plan in pipeline order, then the others by address. */
    static List<WorkerView> pipelineOrder(List<Balancer.Assignment> current, List<WorkerView> workers) {
        Map<String, WorkerView> byAddress = new LinkedHashMap<>();
        workers.stream().sorted(Comparator.comparing(WorkerView::address)).forEach(w -> byAddress.put(w.address(), w));
        List<WorkerView> ordered = new ArrayList<>();
        for (Balancer.Assignment a : current) {
            WorkerView w = byAddress.remove(a.workerId());
            if (w != null) ordered.add(w);
        }
        ordered.addAll(byAddress.values());
        return ordered;
    }

    static Map<String, Double> speeds(List<WorkerView> workers) {
        Map<String, Double> speeds = new HashMap<>();
        for (WorkerView w : workers) speeds.put(w.address(), w.speed());
        return speeds;
    }

    /**
     * Moves the ranges of {@code leaving} workers (drained or lost) to the others: each whole range to one
     * worker with room, idle standbys first, then the one with the most free memory; when no single worker can
     * hold a range, the model is re-split over the remaining workers by the {@link Balancer}.
     *
     * @param reserved bytes already promised to other models' new ranges in the same change, per worker (updated)
     * @throws AdminException (FAILED_PRECONDITION) when the remaining workers lack room
     */
    public static List<Balancer.Assignment> replace(String model, PlacementManager.ModelShape shape,
                                                    List<Balancer.Assignment> current, Set<String> leaving,
                                                    List<WorkerView> workers, Map<String, Long> reserved) {
        if (current.stream().noneMatch(a -> leaving.contains(a.workerId()))) return current;
        List<WorkerView> remaining = workers.stream().filter(w -> !leaving.contains(w.address())).toList();
        Map<String, List<ModelFootprint.Span>> added = new HashMap<>();
        List<Balancer.Assignment> target = new ArrayList<>();
        boolean placedAll = true;
        for (Balancer.Assignment a : current) {
            if (!leaving.contains(a.workerId())) {
                target.add(a);
                continue;
            }
            ModelFootprint.Span span = new ModelFootprint.Span(a.fromLayer(), a.toLayer());
            Optional<WorkerView> chosen = remaining.stream()
                    .filter(w -> extraBytes(shape, w, model, added, span) + reserved.getOrDefault(w.address(), 0L) <= w.freeBytes())
                    .min(Comparator.<WorkerView, Boolean>comparing(w -> !w.idle())
                            .thenComparing(w -> -(w.freeBytes() - reserved.getOrDefault(w.address(), 0L)))
                            .thenComparing(WorkerView::address));
            if (chosen.isEmpty()) {
                placedAll = false;
                break;
            }
            added.computeIfAbsent(chosen.get().address(), k -> new ArrayList<>()).add(span);
            target.add(new Balancer.Assignment(chosen.get().address(), a.fromLayer(), a.toLayer()));
        }
        if (!placedAll) {
            List<WorkerView> ordered = pipelineOrder(current, remaining);
            List<Balancer.WorkerCapacity> capacities = ordered.stream().map(w -> new Balancer.WorkerCapacity(w.address(),
                    w.freeBytes() - reserved.getOrDefault(w.address(), 0L)
                            + shape.footprint().unionBytes(w.held().getOrDefault(model, List.of()), shape.layers()),
                    w.speed())).toList();
            try {
                target = new ArrayList<>(Balancer.plan(shape.layers(), shape.footprint(), shape.headCost(), capacities));
            } catch (IllegalArgumentException e) {
                throw new AdminException(AdminException.Code.FAILED_PRECONDITION, "the remaining workers ("
                        + remaining.size() + ") lack room for " + model + "'s layers on " + leaving + ": " + e.getMessage());
            }
        }
        target.sort(Comparator.comparingInt(Balancer.Assignment::fromLayer));
        for (WorkerView w : remaining) {
            long extra = extraBytes(shape, w, model, spansOn(target, w.address()), null);
            if (extra > 0) reserved.merge(w.address(), extra, Long::sum);
        }
        return List.copyOf(target);
    }

    private static Map<String, List<ModelFootprint.Span>> spansOn(List<Balancer.Assignment> plan, String address) {
        List<ModelFootprint.Span> spans = new ArrayList<>();
        for (Balancer.Assignment a : plan) {
            if (a.workerId().equals(address)) spans.add(new ModelFootprint.Span(a.fromLayer(), a.toLayer()));
        }
        return Map.of(address, spans);
    }

    /** Bytes a worker needs beyond what it holds to also run {@code added} (and {@code span}) of a model. */
    private static long extraBytes(PlacementManager.ModelShape shape, WorkerView w, String model,
                                   Map<String, List<ModelFootprint.Span>> added, ModelFootprint.Span span) {
        List<ModelFootprint.Span> held = w.held().getOrDefault(model, List.of());
        List<ModelFootprint.Span> all = new ArrayList<>(held);
        all.addAll(added.getOrDefault(w.address(), List.of()));
        if (span != null) all.add(span);
        return shape.footprint().unionBytes(all, shape.layers()) - shape.footprint().unionBytes(held, shape.layers());
    }

    /**
     * Refuses a change up front when a worker cannot hold its new ranges next to what it runs now (old and new
     * stages coexist until the switch; overlapping ranges of a model share their pages), or names an unknown worker.
     */
    public static void checkMemory(Map<String, PlacementManager.ModelShape> shapes,
                                   Map<String, List<Balancer.Assignment>> targets, List<WorkerView> workers) {
        Map<String, WorkerView> byAddress = new HashMap<>();
        for (WorkerView w : workers) byAddress.put(w.address(), w);
        Map<String, Long> extra = new LinkedHashMap<>();
        for (Map.Entry<String, List<Balancer.Assignment>> e : targets.entrySet()) {
            PlacementManager.ModelShape shape = shapes.get(e.getKey());
            for (Balancer.Assignment a : e.getValue()) {
                if (!byAddress.containsKey(a.workerId())) {
                    throw new AdminException(AdminException.Code.NOT_FOUND, "no worker at " + a.workerId());
                }
            }
            for (WorkerView w : workers) {
                long bytes = extraBytes(shape, w, e.getKey(), spansOn(e.getValue(), w.address()), null);
                if (bytes > 0) extra.merge(w.address(), bytes, Long::sum);
            }
        }
        for (Map.Entry<String, Long> e : extra.entrySet()) {
            WorkerView w = byAddress.get(e.getKey());
            if (e.getValue() > w.freeBytes()) {
                throw new AdminException(AdminException.Code.FAILED_PRECONDITION, "not enough memory on " + w.address()
                        + ": the change needs " + mib(e.getValue()) + " more, it has " + mib(w.freeBytes()) + " free");
            }
        }
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    /** A stage a worker runs, as recovery sees it. */
    public record HeldStage(String address, WorkerNode.HeldRange range) {}

    /**
     * Rebuilds a model's plan from the stages the live workers run (a new placement singleton after a handover):
     * a chain of stages covering [0, layers), preferring stages assigned for newer plan versions. Empty when the
     * stages do not cover the model.
     */
    public static Optional<List<HeldStage>> recover(int layers, List<HeldStage> stages) {
        List<HeldStage> byPreference = stages.stream()
                .sorted(Comparator.comparingLong((HeldStage s) -> -s.range().planVersion())
                        .thenComparing(s -> -(s.range().toLayer() - s.range().fromLayer()))
                        .thenComparing(HeldStage::address))
                .toList();
        List<HeldStage> chain = new ArrayList<>();
        return chainFrom(0, layers, byPreference, chain) ? Optional.of(List.copyOf(chain)) : Optional.empty();
    }

    private static boolean chainFrom(int layer, int layers, List<HeldStage> stages, List<HeldStage> chain) {
        if (layer == layers) return true;
        for (HeldStage s : stages) {
            if (s.range().fromLayer() != layer || s.range().toLayer() <= layer) continue;
            chain.add(s);
            if (chainFrom(s.range().toLayer(), layers, stages, chain)) return true;
            chain.removeLast();
        }
        return false;
    }
}
