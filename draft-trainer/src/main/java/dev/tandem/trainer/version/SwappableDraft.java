package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.DraftModelProposer;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.engine.spec.ProposerFactory;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongFunction;

/**
 * A {@link ProposerFactory} whose draft per traffic class can be replaced while serving: a sequence keeps
 * the proposer (and so the draft) it started with, and new sequences get the draft live at their start, so
 * a swap happens between steps without disturbing running sequences. Output never depends on the draft
 * (the acceptance test decides). The class of a sequence comes from {@code classOf}; a class without its
 * own draft uses the general one; with none at all, nothing is proposed.
 */
public final class SwappableDraft implements ProposerFactory, DraftPublisher {

    private final int targetVocab;
    private final int targetSeqLen;
    private final ParallelRunner runner;
    private final LongFunction<String> classOf;
    private final Map<String, ProposerFactory> factories = new ConcurrentHashMap<>();
    private final Map<String, DraftModel> drafts = new ConcurrentHashMap<>();

    public SwappableDraft(int targetVocab, int targetSeqLen, ParallelRunner runner, LongFunction<String> classOf) {
        this.targetVocab = targetVocab;
        this.targetSeqLen = targetSeqLen;
        this.runner = runner;
        this.classOf = classOf;
    }

    @Override
    public String name() { return DraftModelProposer.NAME; }

    @Override
    public void live(String trafficClass, DraftModel draft) {
        drafts.put(trafficClass, draft);
        factories.put(trafficClass, DraftModelProposer.factory(draft, targetVocab, targetSeqLen, runner));
    }

    /** The draft a new sequence of the class would get (its own, else the general one), or null. */
    public DraftModel draftFor(String trafficClass) {
        DraftModel d = drafts.get(trafficClass);
        return d != null ? d : drafts.get(DraftModel.GENERAL_CLASS);
    }

    @Override
    public Proposer open(long seqId, SamplerSettings sampling) {
        String cls = classOf.apply(seqId);
        ProposerFactory f = cls == null ? null : factories.get(cls);
        if (f == null) f = factories.get(DraftModel.GENERAL_CLASS);
        return f == null ? new NoneProposer() : f.open(seqId, sampling);
    }
}
