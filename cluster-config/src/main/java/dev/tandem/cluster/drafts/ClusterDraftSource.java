package dev.tandem.cluster.drafts;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.coordinator.spec.DraftSource;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.trainer.traffic.TrafficClassifier;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.SwappableDraft;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A coordinator's drafts: per model, a {@link SwappableDraft} over the node's {@link DraftRegistry}, filled with
 * the live draft of every class at start-up (the registry was reloaded from the Tandem home) and told of every
 * later change (a version replicated from a worker, a rollback, an operator's promote). The scheduler opens a
 * proposer per sequence from it, so a swap takes effect between steps for new sequences while running ones keep
 * their draft. The class of a sequence is its request's tag, else what the classifier (learning from the tagged
 * prompts seen here) says of the prompt.
 */
public final class ClusterDraftSource implements DraftSource {

    private static final Logger log = LoggerFactory.getLogger(ClusterDraftSource.class);

    private final DraftRegistry registry;
    private final TrafficClassifier classifier;
    private final DraftWeights form;

    /** @param form what the proposers of a live draft read ({@code tandem.engine.draft-weights} of the node) */
    public ClusterDraftSource(DraftRegistry registry, TrafficClassifier classifier, DraftWeights form) {
        this.registry = registry;
        this.classifier = classifier;
        this.form = form;
    }

    @Override
    public ProposerFactory draftFactory(String model, OpenedModel target, ParallelRunner runner) {
        return drafts(model, target.config().vocabSize(), target.config().seqLen(), runner);
    }

    /** The swappable drafts of a target with this vocabulary and context, kept in step with the registry. */
    public SwappableDraft drafts(String model, int vocab, int seqLen, ParallelRunner runner) {
        SwappableDraft drafts = new SwappableDraft(vocab, seqLen, runner, seqId -> DraftModel.GENERAL_CLASS, classifier, form);
        registry.addPublisher((cls, draft) -> {
            if (fits(draft, vocab, seqLen, model)) drafts.live(cls, draft);
        });
        for (String cls : registry.classes()) {
            registry.live(cls).ifPresent(d -> {
                if (fits(d, vocab, seqLen, model)) drafts.live(cls, d);
            });
        }
        log.info("drafts for {} from {}: {}", model, registry.root(), drafts.drafts().isEmpty() ? "none yet" : drafts.drafts().keySet());
        return drafts;
    }

    private static boolean fits(DraftModel d, int vocab, int seqLen, String model) {
        boolean ok = d.config().vocabSize() == vocab && d.config().seqLen() >= seqLen;
        if (!ok) {
            log.warn("draft {} v{} (vocabulary {}, context {}) does not fit {} (vocabulary {}, context {}); not used", d.trafficClass(),
                    d.version(), d.config().vocabSize(), d.config().seqLen(), model, vocab, seqLen);
        }
        return ok;
    }
}
