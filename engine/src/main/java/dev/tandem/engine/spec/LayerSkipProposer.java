package dev.tandem.engine.spec;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;

/**
 * Self-speculation: the target's first L layers, its final norm and its output head form a draft that needs
 * no training (usable before any draft model exists). The truncated model has its own KV cache for those
 * layers, kept in sync with the history by truncation after a rejection. Its cost is L / nLayers of the
 * target's blocks plus the whole output head, so it pays off on deep models with a small head.
 */
public final class LayerSkipProposer extends StageProposer {

    public static final String NAME = "layerskip";
    public static final int DEFAULT_LAYERS = 2;

    private LayerSkipProposer(LlamaStage stage, ForwardBatch batch, long seqId, int vocab, SamplerSettings sampling) {
        super(stage, batch, seqId, null, vocab, sampling);
    }

    @Override
    public String name() { return NAME; }

    /** The target's first {@code layers} blocks as a whole model (same tensors, no copy). */
    public static ModelWeights truncate(ModelWeights target, int layers) {
        ModelConfig t = target.config();
        if (layers < 1 || layers > t.nLayers()) throw new IllegalArgumentException("cannot keep " + layers + " of " + t.nLayers() + " layers");
        ModelConfig c = new ModelConfig(t.dim(), t.hiddenDim(), layers, t.nHeads(), t.nKvHeads(), t.vocabSize(), t.seqLen(),
                t.normEps(), t.ropeTheta(), t.tiedEmbedding());
        return new ModelWeights(c, target.tokenEmbedding(), target.layers().subList(0, layers), target.finalNorm(), target.output());
    }

    /** Proposers sharing one truncated stage (and its KV cache, keyed by sequence id). */
    public static ProposerFactory factory(ModelWeights target, int layers, ParallelRunner runner) {
        ModelWeights truncated = truncate(target, layers);
        LlamaStage stage = new LlamaStage(truncated, 0, layers, runner, 1);
        ForwardBatch batch = new ForwardBatch(truncated.config().dim(), 16);
        int vocab = target.config().vocabSize();
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) {
                return new LayerSkipProposer(stage, batch, seqId, vocab, sampling);
            }
        };
    }
}
