package dev.tandem.trainer.version;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.DraftModelProposer;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.trainer.traffic.TrafficClassifier;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;

/**
 * A {@link ProposerFactory} whose draft per traffic class can be replaced while serving: a sequence keeps
 * the proposer (and so the draft) it started with, and new sequences get the draft live at their start, so
 * a swap happens between steps without disturbing running sequences. Output never depends on the draft
 * (the acceptance test decides). A class without its own draft uses the general one; with none at all,
 * nothing is proposed.
 *
 * <p>The class of a sequence: with {@link #open(long, SamplerSettings, int[], String)} (a scheduler that
 * knows the request), the request's tag, else what the {@link TrafficClassifier} says of the prompt (it
 * learns from the tagged prompts it sees here); with the two-argument open, {@code classOf}. Proposers name
 * themselves {@code draft:<class>@<version>} (the class of the draft they run, general for the fallback),
 * so per-proposer statistics show the acceptance of each draft version.
 */
public final class SwappableDraft implements ProposerFactory, DraftPublisher {

    private final int targetVocab;
    private final int targetSeqLen;
    private final ParallelRunner runner;
    private final LongFunction<String> classOf;
    private final TrafficClassifier classifier;
    private final DraftWeights form;
    private final Map<String, Live> live = new ConcurrentHashMap<>();

    /** A class's live draft with its proposer factory and the name its proposers carry. */
    private record Live(DraftModel draft, ProposerFactory factory, String proposerName) {}

    /** Proposers read drafts as this JVM's {@code tandem.engine.draft-weights} says. */
    public SwappableDraft(int targetVocab, int targetSeqLen, ParallelRunner runner, LongFunction<String> classOf) {
        this(targetVocab, targetSeqLen, runner, classOf, null, EngineSettings.load().draftWeights());
    }

    /**
     * @param classifier classifies untagged prompts in the four-argument open (null: {@code classOf} decides)
     * @param form       what the proposers of a live draft read
     */
    public SwappableDraft(int targetVocab, int targetSeqLen, ParallelRunner runner, LongFunction<String> classOf,
                          TrafficClassifier classifier, DraftWeights form) {
        this.targetVocab = targetVocab;
        this.form = form;
        this.targetSeqLen = targetSeqLen;
        this.runner = runner;
        this.classOf = classOf;
        this.classifier = classifier;
    }

    @Override
    public String name() { return DraftModelProposer.NAME; }

    /** The name of the proposers of a draft: {@code draft:<class>@<version>}. */
    public static String proposerName(DraftModel draft, String trafficClass) {
        return DraftModelProposer.NAME + ":" + trafficClass + "@" + draft.version();
    }

    @Override
    public void live(String trafficClass, DraftModel draft) {
        live.put(trafficClass, new Live(draft, DraftModelProposer.factory(draft, targetVocab, targetSeqLen, runner, form),
                proposerName(draft, trafficClass)));
    }

    /** The draft a new sequence of the class would get (its own, else the general one), or null. */
    public DraftModel draftFor(String trafficClass) {
        Live l = liveFor(trafficClass);
        return l == null ? null : l.draft();
    }

    /** The live draft of each class that has one. */
    public Map<String, DraftModel> drafts() {
        Map<String, DraftModel> out = new java.util.TreeMap<>();
        live.forEach((c, l) -> out.put(c, l.draft()));
        return out;
    }

    private Live liveFor(String trafficClass) {
        Live l = trafficClass == null ? null : live.get(trafficClass);
        return l != null ? l : live.get(DraftModel.GENERAL_CLASS);
    }

    @Override
    public Proposer open(long seqId, SamplerSettings sampling) {
        return open(liveFor(classOf.apply(seqId)), seqId, sampling);
    }

    @Override
    public Proposer open(long seqId, SamplerSettings sampling, int[] prompt, String trafficClass) {
        String cls;
        if (trafficClass != null && !trafficClass.isEmpty()) {
            cls = trafficClass;
            if (classifier != null && prompt != null) classifier.learn(prompt, trafficClass);
        } else if (classifier != null && prompt != null) {
            cls = classifier.classify(prompt);
        } else {
            cls = classOf.apply(seqId);
        }
        return open(liveFor(cls), seqId, sampling);
    }

    private static Proposer open(Live l, long seqId, SamplerSettings sampling) {
        return l == null ? new NoneProposer() : new Named(l.factory().open(seqId, sampling), l.proposerName());
    }

    /** A draft proposer under its versioned name. */
    private record Named(Proposer inner, String name) implements Proposer {
        @Override
        public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
            inner.propose(history, maxDrafts, withProbabilities, draft);
        }

        @Override
        public void observe(TokenHistory history, int acceptedDrafts, int appended) {
            inner.observe(history, acceptedDrafts, appended);
        }

        @Override
        public int lastRowsFed() { return inner.lastRowsFed(); }

        @Override
        public long lastFirstDraftNanos() { return inner.lastFirstDraftNanos(); }

        @Override
        public void close() { inner.close(); }
    }
}
