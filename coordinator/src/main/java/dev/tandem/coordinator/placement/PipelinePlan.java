package dev.tandem.coordinator.placement;

import akka.actor.typed.ActorRef;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.worker.StageActor;

import java.util.List;

/**
 * Where a model runs: its layer ranges in order, each with the worker and the stage actor that runs it.
 * Published by the {@link PlacementManager} singleton; {@code version} grows with every new plan of the model.
 */
public record PipelinePlan(String model, int layers, long version, List<PlannedStage> stages) implements KryoMessage {

    public PipelinePlan {
        stages = List.copyOf(stages);
    }

    /** Layers [fromLayer, toLayer) on the worker at {@code workerAddress}, run by {@code stage}. */
    public record PlannedStage(String workerAddress, int fromLayer, int toLayer, ActorRef<StageActor.Command> stage) {}

    /** The stage actors in pipeline order: a step's route. */
    public List<ActorRef<StageActor.Command>> route() {
        return stages.stream().map(PlannedStage::stage).toList();
    }
}
