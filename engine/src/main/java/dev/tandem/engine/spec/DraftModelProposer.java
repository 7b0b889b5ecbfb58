package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

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
     * The draft's products read copies of its matrices in native memory, as the target's do. Why: the kernels are
     * shared, and a kernel the JIT compiled for the target's native segments ran the draft's heap arrays 2-4x slower
     * (with a target forward between proposals, 0.63-0.87 ms a draft token against 0.19-0.22 ms without; the
     * profile shows the lane sums, which then box their vectors). The embedding stays: rows are only copied out of it.
     */
    static ModelWeights offHeap(ModelWeights w) {
        List<LayerWeights> layers = w.layers().stream().map(l -> l.withMatrices(DraftModelProposer::nativeCopy)).toList();
        return new ModelWeights(w.config(), w.tokenEmbedding(), layers, w.finalNorm(), nativeCopy(w.output()));
    }

    private static WeightMatrix nativeCopy(WeightMatrix m) {
        if (m.segment().isNative()) return m;
        MemorySegment copy = Arena.ofAuto().allocate(m.segment().byteSize(), 64);
        copy.copyFrom(m.segment());
        return m.withSegment(copy);
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
        LlamaStage stage = new LlamaStage(offHeap(model.weights()), 0, model.config().nLayers(), runner, 1);
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
