package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.DraftAdmin;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;

/**
 * {@link DraftAdmin} over this coordinator's {@link DraftReplicator}: its registry answers, and a promote or
 * rollback made here is replicated to every node (the workers' trainers then start from it).
 */
public final class ClusterDraftAdmin implements DraftAdmin {

    private final ActorSystem<?> system;
    private final ActorRef<DraftReplicator.Command> replicator;
    private final Set<String> models;
    private final Duration timeout;

    /**
     * @param models  the served models (the registry's drafts are for them; other names are NOT_FOUND)
     * @param timeout how long a call may take (a promote reads a checkpoint)
     */
    public ClusterDraftAdmin(ActorSystem<?> system, ActorRef<DraftReplicator.Command> replicator, Set<String> models, Duration timeout) {
        this.system = system;
        this.replicator = replicator;
        this.models = Set.copyOf(models);
        this.timeout = timeout;
    }

    @Override
    public CompletionStage<List<DraftEntry>> list(String model) {
        AdminException bad = checkModel(model, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        return mapped(AskPattern.askWithStatus(replicator, DraftReplicator.ListDrafts::new, timeout, system.scheduler()));
    }

    @Override
    public CompletionStage<DraftEntry> promote(String model, String trafficClass, long version) {
        AdminException bad = checkModel(model, true);
        if (bad == null && version < 1) bad = new AdminException(AdminException.Code.INVALID_ARGUMENT, "versions start at 1, got " + version);
        if (bad == null) bad = checkClass(trafficClass);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        return mapped(AskPattern.askWithStatus(replicator, replyTo -> new DraftReplicator.Promote(trafficClass, version, replyTo),
                timeout, system.scheduler()));
    }

    @Override
    public CompletionStage<DraftEntry> rollback(String model, String trafficClass) {
        AdminException bad = checkModel(model, true);
        if (bad == null) bad = checkClass(trafficClass);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        return mapped(AskPattern.askWithStatus(replicator, replyTo -> new DraftReplicator.Rollback(trafficClass, replyTo),
                timeout, system.scheduler()));
    }

    private AdminException checkModel(String model, boolean emptyMeansAll) {
        if (model == null || model.isEmpty()) return emptyMeansAll ? null : new AdminException(AdminException.Code.INVALID_ARGUMENT, "the model is missing");
        if (!models.contains(model)) {
            return new AdminException(AdminException.Code.NOT_FOUND, "model '" + model + "' is not served here; models: " + String.join(", ", models));
        }
        return null;
    }

    private static AdminException checkClass(String trafficClass) {
        if (trafficClass == null || trafficClass.isEmpty()) {
            return new AdminException(AdminException.Code.INVALID_ARGUMENT, "the traffic class is missing (the general draft's class is 'general')");
        }
        return null;
    }

    private static <T> CompletionStage<T> mapped(CompletionStage<T> call) {
        return call.exceptionallyCompose(failure -> {
            Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
            if (t instanceof AdminException) return CompletableFuture.failedFuture(t);
            if (t instanceof TimeoutException) {
                return CompletableFuture.failedFuture(new AdminException(AdminException.Code.UNAVAILABLE, "the draft registry did not answer in time"));
            }
            return CompletableFuture.failedFuture(new AdminException(AdminException.Code.INTERNAL, String.valueOf(t.getMessage())));
        });
    }
}
