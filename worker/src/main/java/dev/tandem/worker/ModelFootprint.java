package dev.tandem.worker;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.WeightMatrix;

/**
 * Memory a layer range of a model needs on a worker: its weights (as stored, possibly quantized), the
 * embedding on the first stage and the output head on the last, plus KV cache per cached token.
 * Placement sizes ranges with it; workers report free memory with it.
 *
 * @param layerBytes     weight bytes of each transformer layer (all layers have the same shapes)
 * @param embeddingBytes weight bytes of the token embedding (first stage)
 * @param headBytes      weight bytes of the output head (last stage; the embedding's when tied)
 * @param kvBytesPerTokenPerLayer KV cache bytes of one token position in one layer (keys + values, float32)
 */
public record ModelFootprint(long layerBytes, long embeddingBytes, long headBytes, long kvBytesPerTokenPerLayer) {

    public static ModelFootprint of(ModelWeights weights) {
        ModelConfig config = weights.config();
        LayerWeights layer = weights.layers().getFirst();
        long layerBytes = bytes(layer.wq()) + bytes(layer.wk()) + bytes(layer.wv()) + bytes(layer.wo())
                + bytes(layer.w1()) + bytes(layer.w2()) + bytes(layer.w3())
                + (long) (layer.attnNorm().length + layer.ffnNorm().length) * Float.BYTES;
        long embedding = bytes(weights.tokenEmbedding());
        // A tied head is the embedding matrix, but the last stage still maps and reads it.
        long head = bytes(weights.output());
        return new ModelFootprint(layerBytes, embedding, head, 2L * config.kvDim() * Float.BYTES);
    }

    /** Weight bytes of layers [from, to) of a model with {@code layers} layers, ends included. */
    public long rangeBytes(int from, int to, int layers) {
        long total = (long) (to - from) * layerBytes;
        if (from == 0) total += embeddingBytes;
        if (to == layers) total += headBytes;
        return total;
    }

    private static long bytes(WeightMatrix m) {
        return m.type().bytesFor((long) m.rows() * m.cols());
    }
}
