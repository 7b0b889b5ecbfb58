package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;

/**
 * cos and sin of the rotary angle per (position, pair within a head), computed exactly as the engine's
 * LlamaStage does (float frequency, float angle), so that the trained function is the served one.
 * The rotation is orthogonal, so its backward is the rotation by the negated angle.
 */
final class RopeTable {

    private final int headDim;
    private final int pairs;
    private final float[] cos;
    private final float[] sin;

    RopeTable(DraftConfig c) {
        this.headDim = c.headDim();
        this.pairs = headDim / 2;
        this.cos = new float[c.seqLen() * pairs];
        this.sin = new float[c.seqLen() * pairs];
        for (int pos = 0; pos < c.seqLen(); pos++) {
            for (int p = 0; p < pairs; p++) {
                float freq = (float) (1.0 / Math.pow(c.ropeTheta(), (2 * p) / (float) headDim));
                float angle = pos * freq;
                cos[pos * pairs + p] = (float) Math.cos(angle);
                sin[pos * pairs + p] = (float) Math.sin(angle);
            }
        }
    }

    /** Rotates {@code width} floats (whole heads) at {@code off} for position {@code pos}; inverse undoes it. */
    void rotate(float[] v, int off, int width, int pos, boolean inverse) {
        int table = pos * pairs;
        for (int i = 0; i < width; i += 2) {
            int p = table + (i % headDim) / 2;
            float c = cos[p];
            float s = inverse ? -sin[p] : sin[p];
            float v0 = v[off + i];
            float v1 = v[off + i + 1];
            v[off + i] = v0 * c - v1 * s;
            v[off + i + 1] = v0 * s + v1 * c;
        }
    }
}
