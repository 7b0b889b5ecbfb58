package dev.tandem.coordinator.placement;

import dev.tandem.protocol.KryoMessage;

/** An operator's plan change, as the placement singleton receives it (from any coordinator). */
public sealed interface PlanChange extends KryoMessage {

    /** Layers [fromLayer, toLayer) of {@code model} go to the worker at {@code node}. */
    record MoveRange(String model, int fromLayer, int toLayer, String node) implements PlanChange {}

    /** Apply the automatic rule if its gain reaches the threshold. */
    record AutoRebalance() implements PlanChange {}

    /** Move every range off {@code node}; then, with {@code leave}, have it leave the cluster. */
    record DrainNode(String node, boolean leave) implements PlanChange {}
}
