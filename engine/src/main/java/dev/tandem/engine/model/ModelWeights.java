package dev.tandem.engine.model;

import dev.tandem.engine.tensor.WeightMatrix;

import java.util.List;

/**
 * All weights of a Llama-family model. The token embedding is [vocab, dim]; the output head is
 * [vocab, dim] and is the same object as the embedding when the model ties them.
 * Queries and keys follow the llama2.c / Meta layout (RoPE rotates adjacent pairs), which is also the
 * layout of llama-architecture GGUF files, so one forward pass serves both formats.
 */
public record ModelWeights(ModelConfig config, WeightMatrix tokenEmbedding, List<LayerWeights> layers,
                           float[] finalNorm, WeightMatrix output) {
}
