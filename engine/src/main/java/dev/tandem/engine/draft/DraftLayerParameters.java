package dev.tandem.engine.draft;

/**
 * The weights of one draft transformer block as plain float arrays (row-major [out, in]), so that a
 * trainer can update them in place: wq [dim, dim], wk/wv [kvDim, dim], wo [dim, dim],
 * w1 (gate) and w3 (up) [hiddenDim, dim], w2 (down) [dim, hiddenDim].
 */
public record DraftLayerParameters(float[] attnNorm, float[] wq, float[] wk, float[] wv, float[] wo,
                                   float[] ffnNorm, float[] w1, float[] w2, float[] w3) {

    static DraftLayerParameters zeros(DraftConfig c) {
        int[] n = lengths(c);
        return new DraftLayerParameters(new float[n[0]], new float[n[1]], new float[n[2]], new float[n[3]], new float[n[4]],
                new float[n[5]], new float[n[6]], new float[n[7]], new float[n[8]]);
    }

    /** The lengths of the nine arrays, in checkpoint order, for {@code c}. */
    static int[] lengths(DraftConfig c) {
        return new int[]{c.dim(), c.dim() * c.dim(), c.kvDim() * c.dim(), c.kvDim() * c.dim(), c.dim() * c.dim(), c.dim(),
                c.hiddenDim() * c.dim(), c.dim() * c.hiddenDim(), c.hiddenDim() * c.dim()};
    }

    /** The arrays in checkpoint order. */
    float[][] arrays() {
        return new float[][]{attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3};
    }
}
