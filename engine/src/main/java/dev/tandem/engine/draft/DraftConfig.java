package dev.tandem.engine.draft;

import dev.tandem.engine.model.ModelConfig;

/**
 * Shape of a draft model: a Llama-style transformer (RMSNorm, RoPE, grouped-query attention, SwiGLU),
 * a few layers, small width. The token embedding spans the target's full vocabulary (any committed
 * token can be read); the output head spans a {@link ReducedVocabulary} of {@code headSize} tokens.
 */
public record DraftConfig(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int headSize,
                          int seqLen, float normEps, float ropeTheta) {

    public DraftConfig {
        if (headSize <= 0 || headSize > vocabSize) {
            throw new IllegalArgumentException("the head covers " + headSize + " tokens of a vocabulary of " + vocabSize);
        }
        modelConfig(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, normEps, ropeTheta); // validates
    }

    /** As a target-style config (vocabSize is the embedding's; the head's rows are {@link #headSize()}). */
    public ModelConfig modelConfig() {
        return modelConfig(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, normEps, ropeTheta);
    }

    public int headDim() { return dim / nHeads; }

    public int kvDim() { return headDim() * nKvHeads; }

    /** Number of float parameters. */
    public long parameterCount() {
        long perLayer = 2L * dim + (long) dim * dim * 2 + 2L * kvDim() * dim + 3L * hiddenDim * dim;
        return (long) vocabSize * dim + nLayers * perLayer + dim + (long) headSize * dim;
    }

    private static ModelConfig modelConfig(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize,
                                           int seqLen, float normEps, float ropeTheta) {
        return new ModelConfig(dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, normEps, ropeTheta, false);
    }
}
