package dev.tandem.coordinator.api;

import java.util.List;

/**
 * A model's placement plan: its stages in pipeline order.
 *
 * @param version          grows with every plan change of the model (0 for a proposal)
 * @param bottleneck       the plan's predicted slowest stage: max over stages of work / node speed, a stage's work
 *                         being its layers plus, on the last stage, the output head's cost in layers (lower is faster)
 * @param predictedGain    for a proposal: current bottleneck / proposed bottleneck - 1 (0.25 = 25% more throughput)
 * @param wouldApply       for a proposal: whether {@code rebalance auto} applies it (gain above the threshold)
 */
public record ModelPlan(String model, int layers, long version, List<Stage> stages, double bottleneck,
                        double predictedGain, boolean wouldApply) {

    public ModelPlan {
        stages = List.copyOf(stages);
    }

    /** Layers [from, to) on {@code node}. */
    public record Stage(String node, int from, int to) {}
}
