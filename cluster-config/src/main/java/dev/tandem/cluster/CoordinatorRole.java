package dev.tandem.cluster;

import akka.actor.typed.ActorSystem;
import dev.tandem.coordinator.api.InferenceBackend;

/** Starts the serving side of a coordinator node: placement, scheduler and the backend the gateway calls. */
final class CoordinatorRole {

    private CoordinatorRole() {}

    static InferenceBackend startBackend(ActorSystem<?> system) {
        // Filled in once the coordinator's ClusterInferenceBackend exists (pipeline branch).
        throw new UnsupportedOperationException("the coordinator backend is not available in this build");
    }
}
