package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.model.ResidentWeights;
import dev.tandem.engine.model.WeightsMemory;

import java.lang.foreign.Arena;

/**
 * Drafts with a small {@link DraftModel} whose head covers a reduced vocabulary: tokens outside it are never
 * proposed (the target still outputs them as corrections). The draft has its own KV cache per sequence,
 * resynchronized with the history after each verification.
 */
public final class DraftModelProposer extends StageProposer {

    public static final String NAME = "draft";

    private final DraftModel model;

    private DraftModelProposer(DraftModel model, LlamaStage stage, ForwardBatch batch, long seqId, int[] logitTokens,
                               SamplerSettings sampling) {
        super(stage, batch, seqId, logitTokens, model.config().vocabSize(), sampling);
        this.model = model;
    }

    @Override
    public String name() { return NAME; }

    public DraftModel model() { return model; }

    /**
     * The draft's products read a copy of its matrices in the packed float32 layout on huge pages, as a worker's
     * stage reads the target's ({@link ResidentWeights}). Why: a draft token streams its whole layer and head
     * (6.4 MB for stories15M's one-layer draft), and between two proposals the target's forward evicts them from the
     * caches. One thread, one-layer draft with a 2048-token head, a 64 MB sweep before each proposal of three
     * tokens: 0.26-0.31 ms a token packed against 0.42-0.55 ms row-major in native memory (0.11 against 0.35 ms
     * warm). Row-major heap arrays were slower still: the kernels the JIT compiled for native segments ran them
     * 2-4x slower. The embedding stays: rows are only copied out of it.
     */
    static ModelWeights packed(ModelWeights w) {
        return ResidentWeights.place(w, 0, w.config().nLayers(), WeightsMemory.HUGE_PAGES, Arena.ofAuto(), false);
    }

    /**
     * Proposers sharing one stage over {@code model}. The draft's context must cover the target's
     * ({@code targetSeqLen}) and its embedding the target's vocabulary ({@code targetVocab}).
     */
    public static ProposerFactory factory(DraftModel model, int targetVocab, int targetSeqLen, ParallelRunner runner) {
        if (model.config().vocabSize() != targetVocab) {
            throw new IllegalArgumentException("the draft is for a vocabulary of " + model.config().vocabSize()
                    + " tokens, the target has " + targetVocab);
        }
        if (model.config().seqLen() < targetSeqLen) {
            throw new IllegalArgumentException("the draft's context of " + model.config().seqLen()
                    + " is shorter than the target's " + targetSeqLen);
        }
        LlamaStage stage = new LlamaStage(packed(model.weights()), 0, model.config().nLayers(), runner, 1);
        ForwardBatch batch = new ForwardBatch(model.config().dim(), 16);
        int[] logitTokens = model.vocabulary().isFull() ? null : model.vocabulary().tokens();
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) {
                return new DraftModelProposer(model, stage, batch, seqId, logitTokens, sampling);
            }
        };
    }
}
