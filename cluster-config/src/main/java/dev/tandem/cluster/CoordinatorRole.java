package dev.tandem.cluster;

import akka.actor.typed.ActorSystem;
import dev.tandem.coordinator.ClusterInferenceBackend;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.spec.DraftSource;

/** Starts the serving side of a coordinator node: placement, scheduler and the backend the gateway calls. */
final class CoordinatorRole {

    private CoordinatorRole() {}

    static InferenceBackend startBackend(ActorSystem<?> system) {
        return startBackend(system, DraftSource.NONE);
    }

    /** @param drafts where the {@code draft} proposer's drafts come from (the node's registry with online distillation) */
    static InferenceBackend startBackend(ActorSystem<?> system, DraftSource drafts) {
        ClusterInferenceBackend backend = ClusterInferenceBackend.start(system,
                CoordinatorSettings.fromConfig(system.settings().config()), drafts);
        // The models' memory maps outlive every actor that reads them: close them last.
        system.getWhenTerminated().thenRun(backend::close);
        return backend;
    }
}
