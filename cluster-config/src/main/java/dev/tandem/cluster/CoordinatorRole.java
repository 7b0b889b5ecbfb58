package dev.tandem.cluster;

import akka.actor.typed.ActorSystem;
import dev.tandem.coordinator.ClusterInferenceBackend;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.InferenceBackend;

/** Starts the serving side of a coordinator node: placement, scheduler and the backend the gateway calls. */
final class CoordinatorRole {

    private CoordinatorRole() {}

    static InferenceBackend startBackend(ActorSystem<?> system) {
        ClusterInferenceBackend backend = ClusterInferenceBackend.start(system,
                CoordinatorSettings.fromConfig(system.settings().config()));
        // The models' memory maps outlive every actor that reads them: close them last.
        system.getWhenTerminated().thenRun(backend::close);
        return backend;
    }
}
