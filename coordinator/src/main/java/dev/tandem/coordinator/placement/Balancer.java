package dev.tandem.coordinator.placement;

import dev.tandem.worker.ModelFootprint;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a model's layers into contiguous ranges over workers, in the order given: each worker's share is
 * proportional to its measured speed (so stages take about equally long), capped by the layers that fit in
 * its free memory (the first worker also holds the embedding, the last the output head). A worker may get
 * no layers. Pure function; deterministic for the same input.
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
     * @throws IllegalArgumentException when there are no workers or their memory cannot hold the model
     */
    public static List<Assignment> plan(int layers, ModelFootprint footprint, List<WorkerCapacity> workers) {
        if (layers < 1) throw new IllegalArgumentException("a model needs at least one layer");
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
        int[] counts = shares(layers, caps, speeds);
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
     * Water-filling: workers whose speed share exceeds their cap get their cap, the rest share the remaining
     * layers by speed; then whole layers by largest remainder (ties to the earlier worker).
     */
    static int[] shares(int layers, int[] caps, double[] speeds) {
        int n = caps.length;
        boolean[] capped = new boolean[n];
        double[] ideal = new double[n];
        boolean changed = true;
        while (changed) {
            changed = false;
            int remaining = layers;
            double speedSum = 0;
            for (int i = 0; i < n; i++) {
                if (capped[i]) remaining -= caps[i];
                else speedSum += speeds[i];
            }
            for (int i = 0; i < n; i++) {
                if (capped[i]) {
                    ideal[i] = caps[i];
                    continue;
                }
                ideal[i] = speedSum > 0 ? remaining * speeds[i] / speedSum : 0;
                if (ideal[i] > caps[i]) {
                    capped[i] = true;
                    changed = true;
                }
            }
        }
        int[] counts = new int[n];
        int assigned = 0;
        for (int i = 0; i < n; i++) {
            counts[i] = Math.min(caps[i], (int) Math.floor(ideal[i] + 1e-9));
            assigned += counts[i];
        }
        while (assigned < layers) {
            int best = -1;
            double bestRemainder = -1;
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
        return counts;
    }
}
