package dev.tandem.coordinator.placement;

import dev.tandem.worker.ModelFootprint;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a model's layers into contiguous ranges over workers, in the order given: each worker's share of the
 * work is proportional to its measured speed (so stages take about equally long), capped by the layers that fit
 * in its free memory (the first worker also holds the embedding, the last the output head). The last worker's
 * work includes the output head, counted as {@code headCost} layers, so it gets that many fewer (at least one:
 * the head runs after the last layer). A worker may get no layers. Pure function; deterministic for the same
 * input.
 */
public final class Balancer {

    /** A worker as placement sees it. {@code speed} is relative (e.g. GFLOP/s); <= 0 counts as the slowest. */
    public record WorkerCapacity(String workerId, long freeMemoryBytes, double speed) {}

    /** Layers [fromLayer, toLayer) go to this worker. */
    public record Assignment(String workerId, int fromLayer, int toLayer) {
        public int layers() { return toLayer - fromLayer; }
    }

    /** Speed assumed for a worker that reports none, relative to the fastest (keeps it in the plan). */
    private static final double MIN_RELATIVE_SPEED = 1e-3;

    private Balancer() {}

    /**
     * @param headCost what the output head costs its stage, in layers (0: ranges split by layers alone)
     * @throws IllegalArgumentException when there are no workers or their memory cannot hold the model
     */
    public static List<Assignment> plan(int layers, ModelFootprint footprint, double headCost, List<WorkerCapacity> workers) {
        if (layers < 1) throw new IllegalArgumentException("a model needs at least one layer");
        if (!(headCost >= 0) || Double.isInfinite(headCost)) throw new IllegalArgumentException("the head's cost must be a finite number >= 0, got " + headCost);
        int n = workers.size();
        if (n == 0) throw new IllegalArgumentException("no workers to place " + layers + " layers on");
        int[] caps = new int[n];
        double[] speeds = new double[n];
        double fastest = workers.stream().mapToDouble(WorkerCapacity::speed).max().orElse(0);
        long capTotal = 0;
        for (int i = 0; i < n; i++) {
            WorkerCapacity w = workers.get(i);
            long free = w.freeMemoryBytes();
            if (i == 0) free -= footprint.embeddingBytes();
            if (i == n - 1) free -= footprint.headBytes();
            long fit = footprint.layerBytes() <= 0 ? layers : Math.max(0, free) / footprint.layerBytes();
            caps[i] = (int) Math.min(layers, fit);
            capTotal += caps[i];
            speeds[i] = fastest > 0 ? Math.max(w.speed() / fastest, MIN_RELATIVE_SPEED) : 1.0;
        }
        if (capTotal < layers) {
            throw new IllegalArgumentException("the workers' free memory holds " + capTotal + " of " + layers
                    + " layers (" + footprint.layerBytes() + " bytes each)");
        }
        double[] extra = new double[n];
        int[] floors = new int[n];
        extra[n - 1] = headCost;
        // The head comes with the last layer: a last worker that can hold a layer keeps one, however costly the head.
        if (headCost > 0 && caps[n - 1] > 0) floors[n - 1] = 1;
        int[] counts = shares(layers, caps, floors, speeds, extra);
        List<Assignment> plan = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < n; i++) {
            if (counts[i] == 0) continue;
            plan.add(new Assignment(workers.get(i).workerId(), from, from + counts[i]));
            from += counts[i];
        }
        return List.copyOf(plan);
    }

    /**
     * Water-filling: each worker's work (its layers plus its fixed {@code extra}, e.g. the head) in proportion to
     * its speed; workers whose share falls outside [floor, cap] get that bound and the rest share what remains;
     * then whole layers by largest remainder (ties to the earlier worker).
     */
    static int[] shares(int layers, int[] caps, int[] floors, double[] speeds, double[] extra) {
        int n = caps.length;
        boolean[] fixed = new boolean[n];
        double[] ideal = new double[n];
        boolean changed = true;
        while (changed) {
            changed = false;
            double pool = layers;
            double speedSum = 0;
            for (int i = 0; i < n; i++) {
                if (fixed[i]) pool -= ideal[i];
                else {
                    pool += extra[i];
                    speedSum += speeds[i];
                }
            }
            for (int i = 0; i < n && !changed; i++) {
                if (fixed[i]) continue;
                double share = speedSum > 0 ? pool * speeds[i] / speedSum - extra[i] : 0;
                // One bound at a time: fixing a worker changes what the others share.
                if (share > caps[i]) {
                    ideal[i] = caps[i];
                    fixed[i] = changed = true;
                } else if (share < floors[i]) {
                    ideal[i] = floors[i];
                    fixed[i] = changed = true;
                }
            }
            if (!changed) {
                for (int i = 0; i < n; i++) {
                    if (!fixed[i]) ideal[i] = speedSum > 0 ? Math.max(0, pool * speeds[i] / speedSum - extra[i]) : 0;
                }
            }
        }
        int[] counts = new int[n];
        int assigned = 0;
        for (int i = 0; i < n; i++) {
            counts[i] = Math.max(floors[i], Math.min(caps[i], (int) Math.floor(ideal[i] + 1e-9)));
            assigned += counts[i];
        }
        while (assigned < layers) {
            int best = -1;
            double bestRemainder = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (counts[i] >= caps[i]) continue;
                double remainder = ideal[i] - counts[i];
                if (remainder > bestRemainder + 1e-9) {
                    bestRemainder = remainder;
                    best = i;
                }
            }
            counts[best]++;
            assigned++;
        }
        while (assigned > layers) {
            // Floors and rounding gave one too many: take it from the worker furthest above its ideal.
            int worst = -1;
            double worstExcess = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (counts[i] <= floors[i]) continue;
                double excess = counts[i] - ideal[i];
                if (excess > worstExcess + 1e-9) {
                    worstExcess = excess;
                    worst = i;
                }
            }
            counts[worst]--;
            assigned--;
        }
        return counts;
    }
}
