package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.model.ResidentWeights;
import dev.tandem.engine.model.WeightsMemory;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.engine.model.EngineSettings;

import java.lang.foreign.Arena;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;


/**
 * Drafts with a small {@link DraftModel} whose head covers a reduced vocabulary: tokens outside it are never
 * proposed (the target still outputs them as corrections). The draft has its own KV cache per sequence,
 * resynchronized with the history after each verification.
 */
public final class DraftModelProposer extends StageProposer {

    public static final String NAME = "draft";
    private static final Logger LOG = LoggerFactory.getLogger(DraftModelProposer.class);

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
     * The draft's products read a copy of its matrices (the embedding stays: rows are only copied out of it), so a
     * served draft no longer sees later changes to its arrays, in one of two forms ({@link DraftWeights}):
     * <ul>
     *   <li>int8 with a scale per row ({@link ResidentWeights#int8Copy}), all matrices in one region of huge pages. A draft
     *       token streams its whole layer and head, and between two proposals the target's forward evicts them from
     *       the caches: one thread, stories15M's one-layer draft with a 2048-token head, a 64 MB sweep before each
     *       proposal of three tokens, 0.13-0.18 ms a token against 0.26-0.30 ms for the packed float32 copy (three
     *       alternating runs). Its argmax differed from float32's at 3 of 250 positions of a story.</li>
     *   <li>float32 in the packed layout on huge pages, as a worker's stage reads the target
     *       ({@link ResidentWeights}): 0.26-0.31 ms a token against 0.42-0.55 ms row-major in native memory (0.11
     *       against 0.35 ms warm). Row-major heap arrays were slower still: the kernels the JIT compiled for native
     *       segments ran them 2-4x slower.</li>
     * </ul>
     */
    static ModelWeights copy(ModelWeights w, DraftWeights form) {
        if (form == DraftWeights.INT8) {
            try {
                return ResidentWeights.int8Copy(w);
            } catch (IllegalArgumentException notFinite) {
                // No int8 bound holds for such a matrix; its proposals will be poor either way, and verified.
                LOG.warn("draft served from its float32 copy: {}", notFinite.getMessage());
            }
        }
        return ResidentWeights.place(w, 0, w.config().nLayers(), WeightsMemory.HUGE_PAGES, Arena.ofAuto(), false);
    }

    /**
     * Proposers sharing one stage over {@code model}. The draft's context must cover the target's
     * ({@code targetSeqLen}) and its embedding the target's vocabulary ({@code targetVocab}).
     */
    public static ProposerFactory factory(DraftModel model, int targetVocab, int targetSeqLen, ParallelRunner runner) {
        return factory(model, targetVocab, targetSeqLen, runner, EngineSettings.load().draftWeights());
    }

    /** As {@link #factory(DraftModel, int, int, ParallelRunner)}, with the products reading {@code form}. */
    public static ProposerFactory factory(DraftModel model, int targetVocab, int targetSeqLen, ParallelRunner runner,
                                          DraftWeights form) {
        if (model.config().vocabSize() != targetVocab) {
            throw new IllegalArgumentException("the draft is for a vocabulary of " + model.config().vocabSize()
                    + " tokens, the target has " + targetVocab);
        }
        if (model.config().seqLen() < targetSeqLen) {
            throw new IllegalArgumentException("the draft's context of " + model.config().seqLen()
                    + " is shorter than the target's " + targetSeqLen);
        }
        LlamaStage stage = new LlamaStage(copy(model.weights(), form), 0, model.config().nLayers(), runner, 1);
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
