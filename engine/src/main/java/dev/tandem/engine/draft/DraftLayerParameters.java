package dev.tandem.engine.draft;

/**
 * The weights of one draft transformer block as plain float arrays (row-major [out, in]), so that a
 * trainer can update them in place: wq [dim, dim], wk/wv [kvDim, dim], wo [dim, dim],
 * w1 (gate) and w3 (up) [hiddenDim, dim], w2 (down) [dim, hiddenDim].
 */
public record DraftLayerParameters(float[] attnNorm, float[] wq, float[] wk, float[] wv, float[] wo,
                                   float[] ffnNorm, float[] w1, float[] w2, float[] w3) {

    static DraftLayerParameters zeros(DraftConfig c) {
        return new DraftLayerParameters(new float[c.dim()], new float[c.dim() * c.dim()], new float[c.kvDim() * c.dim()],
                new float[c.kvDim() * c.dim()], new float[c.dim() * c.dim()], new float[c.dim()],
                new float[c.hiddenDim() * c.dim()], new float[c.dim() * c.hiddenDim()], new float[c.hiddenDim() * c.dim()]);
    }

    /** The arrays in checkpoint order. */
    float[][] arrays() {
        return new float[][]{attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3};
    }
}
