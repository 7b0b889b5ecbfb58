package dev.tandem.engine.model;

import dev.tandem.engine.tensor.WeightMatrix;

import java.util.function.UnaryOperator;

/**
 * Weights of one transformer block. Matrices are [out, in]: wq [dim, dim], wk/wv [kvDim, dim],
 * wo [dim, dim], w1 (gate) and w3 (up) [hiddenDim, dim], w2 (down) [dim, hiddenDim].
 * Norm weights are small and live on the heap.
 */
public record LayerWeights(float[] attnNorm, WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo,
                           float[] ffnNorm, WeightMatrix w1, WeightMatrix w2, WeightMatrix w3) {

    /** The same block with each of its seven matrices replaced by {@code f} of it (a copy elsewhere); norms shared. */
    public LayerWeights withMatrices(UnaryOperator<WeightMatrix> f) {
        return new LayerWeights(attnNorm, f.apply(wq), f.apply(wk), f.apply(wv), f.apply(wo), ffnNorm,
                f.apply(w1), f.apply(w2), f.apply(w3));
    }
}
