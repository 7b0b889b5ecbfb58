package dev.tandem.cluster.drafts;

import dev.tandem.engine.model.EngineSettings;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.ActorContext;
import com.typesafe.config.Config;
import dev.tandem.coordinator.CoordinatorMetrics;
import dev.tandem.coordinator.spec.DraftSource;
import dev.tandem.engine.model.FileTrees;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.Gauge;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficClassifier;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftRegistry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Wires online distillation into a node (called by the node's guardian once it is up): the draft registry
 * under the node's own directory and the {@link DraftReplicator} on every node; on a worker the recorder
 * (a {@link TrafficRecorder} feeding per-class {@link ReplayBuffers}, behind a {@link ServingActivity}) that
 * the {@code WorkerNode} hands to its last stages, and the {@link DraftTrainer}; on a coordinator the
 * {@link ClusterDraftSource} of the scheduler's {@code draft} proposer.
 */
public final class OnlineDistillation {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(OnlineDistillation.class);

    /** The scheduler's per-proposer counters a coordinator's live check reads. */
    static final String PROPOSED_COUNTER = "tandem_drafts_proposed_total";
    static final String ACCEPTED_COUNTER = "tandem_drafts_accepted_total";

    /**
     * What a node's roles get.
     *
     * @param registry    null when online distillation is off
     * @param activity    the recorder chain a worker hands to its last stages (null unless this node records)
     * @param recorder    the recorder behind it (null unless this node records)
     * @param buffers     the replay buffers it feeds (null unless this node records)
     * @param draftSource for the coordinator's backend (NONE unless a coordinator)
     */
    public record Parts(DraftsSettings settings, DraftRegistry registry, ServingActivity activity, TrafficRecorder recorder,
                        ReplayBuffers buffers, DraftSource draftSource) {
        public boolean enabled() { return registry != null; }

        /** What {@code WorkerNode.create} gets. */
        public VerificationListener verificationListener() { return activity == null ? VerificationListener.NONE : activity; }
    }

    private OnlineDistillation() {}

    /**
     * Opens the registry and builds the worker and coordinator parts (no actors yet: the WorkerNode needs the
     * recorder and the backend the draft source; {@link #startActors} starts the replicator and trainer).
     *
     * @param onTermination receives a clean-up to run when the node has stopped (a temporary directory), or nothing
     */
    public static Parts prepare(Config config, boolean worker, boolean coordinator, java.util.function.Consumer<Runnable> onTermination) {
        DraftsSettings settings = DraftsSettings.fromConfig(config);
        if (!settings.enabled()) return new Parts(settings, null, null, null, null, DraftSource.NONE);
        if (coordinator && !pinnedDraft(config).isEmpty()) {
            // The operator pinned a draft file (--draft): this coordinator serves it and keeps no registry (nothing it
            // runs, e.g. a benchmark, writes into the Tandem home's drafts).
            log.info("draft pinned to {}: no draft registry on this coordinator", pinnedDraft(config));
            return new Parts(settings, null, null, null, null, DraftSource.NONE);
        }
        TrainerSettings t = TrainerSettings.fromConfig(config);
        Path dir = settings.registryDir(coordinator);
        if (dir == null) {
            try {
                Path tmp = Files.createTempDirectory("tandem-drafts-");
                onTermination.accept(() -> FileTrees.deleteQuietly(tmp)); // a leftover does no harm
                dir = tmp;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a temporary draft directory", e);
            }
        }
        DraftRegistry registry = DraftRegistry.open(dir);
        if (coordinator) seedGeneral(registry);
        ServingActivity activity = null;
        TrafficRecorder recorder = null;
        ReplayBuffers buffers = null;
        if (worker && settings.train()) {
            TrafficClassifier classifier = new TrafficClassifier(t.classifierMinExamples(), t.classifierMinPosterior());
            buffers = ReplayBuffers.of(t);
            recorder = new TrafficRecorder(t.topK(), t.samplingRate(), t.maxPendingBytes(), buffers, classifier::classify,
                    settings.recorderSeed()).deferTeacher(t.deferTeacher()); // the DraftTrainer resolves deferred teachers
            recorder.onTagged(classifier::learn);
            activity = new ServingActivity(recorder, settings.staleSequence().toNanos());
        }
        DraftSource source = coordinator
                ? new ClusterDraftSource(registry, new TrafficClassifier(t.classifierMinExamples(), t.classifierMinPosterior()),
                        EngineSettings.fromConfig(config).draftWeights())
                : DraftSource.NONE;
        return new Parts(settings, registry, activity, recorder, buffers, source);
    }

    /**
     * Starts the node's actors: the replicator (every node) and, on a node that records, the trainer over the
     * recorder's buffers. Returns the replicator.
     *
     * @param model        the model the drafts are for (named in the Admin API)
     * @param servedModels the coordinator's models (their per-proposer counters give live acceptance); empty elsewhere
     */
    public static ActorRef<DraftReplicator.Command> startActors(ActorContext<?> context, Parts parts, String model,
                                                                Set<String> servedModels) {
        Config config = context.getSystem().settings().config();
        MetricsRegistry metrics = NodeMetrics.of(context.getSystem());
        DraftReplicator.LiveAcceptance live = servedModels.isEmpty() ? null : liveAcceptance(metrics, servedModels);
        ActorRef<DraftReplicator.Command> replicator = context.spawn(
                DraftReplicator.create(parts.registry(), parts.settings(), model, live, serving(metrics, servedModels, parts.activity())),
                DraftReplicator.ACTOR_NAME,
                DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER));
        if (parts.activity() != null) {
            context.spawn(DraftTrainer.create(TrainerSettings.fromConfig(config), parts.settings(), parts.buffers(), parts.recorder(),
                    parts.activity(), parts.registry()), DraftTrainer.ACTOR_NAME, DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER));
        }
        return replicator;
    }

    /**
     * Whether the node serves now: sequences decoding on a coordinator ({@code tandem_active_sequences} of its models,
     * the scheduler's gauge) or on a worker's last stages ({@code activity}); null when the node has neither.
     */
    static BooleanSupplier serving(MetricsRegistry metrics, Set<String> models, ServingActivity activity) {
        if (models.isEmpty() && activity == null) return null;
        List<String> served = List.copyOf(models);
        Gauge active = served.isEmpty() ? null : CoordinatorMetrics.activeSequences(metrics);
        return () -> {
            if (activity != null && activity.activeSequences() > 0) return true;
            if (active != null) for (String m : served) if (active.value(m) > 0) return true;
            return false;
        };
    }

    /** Live acceptance from the scheduler's counters, summed over the served models. */
    static DraftReplicator.LiveAcceptance liveAcceptance(MetricsRegistry metrics, Set<String> models) {
        List<String> served = List.copyOf(models);
        return proposer -> {
            Counter proposed = metrics.counter(PROPOSED_COUNTER, "Draft tokens sent for verification", "model", "proposer");
            Counter accepted = metrics.counter(ACCEPTED_COUNTER, "Draft tokens the target accepted", "model", "proposer");
            long p = 0;
            long a = 0;
            for (String m : served) {
                p += (long) proposed.value(m, proposer);
                a += (long) accepted.value(m, proposer);
            }
            return new long[] {p, a};
        };
    }

    private static final String PINNED_DRAFT = "tandem.coordinator.speculation.draft-checkpoint";

    private static String pinnedDraft(Config config) {
        return config.hasPath(PINNED_DRAFT) ? config.getString(PINNED_DRAFT) : "";
    }

    /**
     * A coordinator whose registry has no general draft yet adopts {@code $TANDEM_HOME/drafts/default.draft} (what
     * the {@code draft} proposer reads without a registry), so a hand-made draft serves and is replicated too.
     */
    private static void seedGeneral(DraftRegistry registry) {
        if (registry.live(DraftModel.GENERAL_CLASS).isPresent() || !registry.history(DraftModel.GENERAL_CLASS).isEmpty()) return;
        Path file = DraftCheckpoint.defaultPath();
        if (!Files.isRegularFile(file)) return;
        DraftModel draft = DraftCheckpoint.read(file);
        registry.adopt(DraftModel.GENERAL_CLASS, draft.withVersion(Math.max(1, draft.version()), DraftModel.GENERAL_CLASS),
                AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, System.currentTimeMillis(), "from " + file);
    }
}
