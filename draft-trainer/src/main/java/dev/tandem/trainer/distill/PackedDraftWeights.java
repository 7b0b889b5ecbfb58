package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftLayerParameters;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.engine.tensor.PackedF32Matrix;

/**
 * A draft's matrices in the engine's {@link PackedF32Matrix} layout, for the training forward's products: the
 * packed kernels need no horizontal lane sums, which with the row-major kernels took about half the time of a
 * training forward. Training changes the weights at every optimizer step, so they are packed again for every
 * step (once for its whole batch), into buffers kept from one step to the next. A copy: after the weights
 * change, {@link #pack} again before using it.
 */
final class PackedDraftWeights {

    /** Matrices per layer: wq, wk, wv, wo, w1, w3, w2. */
    private static final int PER_LAYER = 7;

    private final DraftConfig config;
    private final float[][] buffers;
    private final PackedF32Matrix[] matrices;
    private DraftParameters packedFrom;

    PackedDraftWeights(DraftConfig config) {
        this.config = config;
        this.buffers = new float[config.nLayers() * PER_LAYER + 1][];
        this.matrices = new PackedF32Matrix[buffers.length];
    }

    /** Packs every matrix of {@code p} (the draft's current weights). */
    void pack(DraftParameters p) {
        int dim = config.dim(), kvDim = config.kvDim(), hidden = config.hiddenDim();
        for (int l = 0; l < config.nLayers(); l++) {
            DraftLayerParameters w = p.layers().get(l);
            int s = l * PER_LAYER;
            pack(s, w.wq(), dim, dim);
            pack(s + 1, w.wk(), kvDim, dim);
            pack(s + 2, w.wv(), kvDim, dim);
            pack(s + 3, w.wo(), dim, dim);
            pack(s + 4, w.w1(), hidden, dim);
            pack(s + 5, w.w3(), hidden, dim);
            pack(s + 6, w.w2(), dim, hidden);
        }
        pack(matrices.length - 1, p.output(), config.headSize(), dim);
        packedFrom = p;
    }

    /** Whether the last {@link #pack} was of {@code p} (its weights may have changed since: the caller knows). */
    boolean packedFrom(DraftParameters p) { return packedFrom == p; }

    /** Makes {@link #packedFrom} false for every parameters until the next {@link #pack}. */
    void forget() { packedFrom = null; }

    PackedF32Matrix wq(int layer) { return matrices[layer * PER_LAYER]; }
    PackedF32Matrix wk(int layer) { return matrices[layer * PER_LAYER + 1]; }
    PackedF32Matrix wv(int layer) { return matrices[layer * PER_LAYER + 2]; }
    PackedF32Matrix wo(int layer) { return matrices[layer * PER_LAYER + 3]; }
    PackedF32Matrix w1(int layer) { return matrices[layer * PER_LAYER + 4]; }
    PackedF32Matrix w3(int layer) { return matrices[layer * PER_LAYER + 5]; }
    PackedF32Matrix w2(int layer) { return matrices[layer * PER_LAYER + 6]; }
    PackedF32Matrix output() { return matrices[matrices.length - 1]; }

    private void pack(int slot, float[] w, int rows, int cols) {
        matrices[slot] = pack(w, rows, cols, buffers, slot);
    }

    /** Packs row-major {@code w} (rows x cols) into {@code buffers[slot]}, growing it when too small. */
    static PackedF32Matrix pack(float[] w, int rows, int cols, float[][] buffers, int slot) {
        int floats = Math.toIntExact(PackedF32Matrix.packedBytes(rows, cols) / Float.BYTES);
        if (buffers[slot] == null || buffers[slot].length < floats) buffers[slot] = new float[floats];
        return PackedF32Matrix.pack(w, rows, cols, buffers[slot]);
    }
}
