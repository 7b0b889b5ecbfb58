package dev.tandem.engine.model;

/**
 * Hyper-parameters of a Llama-family transformer.
 *
 * @param dim          width of the residual stream
 * @param hiddenDim    width of the SwiGLU feed-forward layer
 * @param nLayers      number of transformer blocks
 * @param nHeads       number of query heads
 * @param nKvHeads     number of key/value heads (grouped-query attention when smaller than nHeads)
 * @param vocabSize    size of the token vocabulary (rows of the embedding and of the output head)
 * @param seqLen       maximum context length
 * @param normEps      RMSNorm epsilon
 * @param ropeTheta    RoPE base frequency
 * @param tiedEmbedding true when the output head shares the token embedding matrix
 */
public record ModelConfig(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize,
                          int seqLen, float normEps, float ropeTheta, boolean tiedEmbedding) {

    public ModelConfig {
        if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || vocabSize <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("model dimensions must be positive: " + this);
        }
        if (dim % nHeads != 0 || nHeads % nKvHeads != 0) {
            throw new IllegalArgumentException("dim must divide into heads and heads into kv heads: " + this);
        }
    }

    public int headDim() { return dim / nHeads; }

    public int kvDim() { return headDim() * nKvHeads; }

    /** Query heads that share one key/value head. */
    public int kvMul() { return nHeads / nKvHeads; }
}
