package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftParameters;

import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * Gradient buffers shaped like {@link DraftParameters}. The token embedding spans the target's whole
 * vocabulary but a batch touches few rows, so the touched rows are tracked: clearing and the optimizer
 * visit only those (the embedding update is sparse, as in "lazy" Adam).
 */
public final class DraftGradients {

    private final DraftConfig config;
    private final DraftParameters grads;
    private final BitSet touchedRows;

    /** With {@code withEmbedding} false the embedding (frozen) gets no gradient buffer at all: it is target-sized. */
    public DraftGradients(DraftConfig config, boolean withEmbedding) {
        this.config = config;
        // Without one, no zero-filled target-sized embedding is made only to be dropped: each shard of each
        // candidate's distiller builds gradients, and 37 MB arrays go straight to G1's old generation.
        this.grads = withEmbedding ? DraftParameters.zeros(config) : DraftParameters.zeros(config, new float[0]);
        this.touchedRows = new BitSet(config.vocabSize());
    }

    public DraftParameters values() { return grads; }

    /** Embedding rows with a (possibly) nonzero gradient since the last {@link #clear}. */
    public BitSet touchedRows() { return touchedRows; }

    void touchRow(int token) { touchedRows.set(token); }

    /** Whether the embedding has a gradient buffer. */
    public boolean hasEmbedding() { return grads.embedding().length > 0; }

    public void clear() {
        List<float[]> arrays = grads.arrays();
        int dim = config.dim();
        for (int row = touchedRows.nextSetBit(0); row >= 0; row = touchedRows.nextSetBit(row + 1)) {
            Arrays.fill(grads.embedding(), row * dim, (row + 1) * dim, 0f);
        }
        touchedRows.clear();
        for (int i = 1; i < arrays.size(); i++) Arrays.fill(arrays.get(i), 0f);
    }

    /** Adds {@code other}'s gradients (same shape) to these. */
    void add(DraftGradients other) {
        List<float[]> mine = grads.arrays();
        List<float[]> theirs = other.grads.arrays();
        int dim = config.dim();
        BitSet rows = other.touchedRows;
        for (int row = rows.nextSetBit(0); row >= 0; row = rows.nextSetBit(row + 1)) {
            for (int i = row * dim; i < (row + 1) * dim; i++) grads.embedding()[i] += other.grads.embedding()[i];
        }
        touchedRows.or(rows);
        for (int a = 1; a < mine.size(); a++) {
            float[] g = mine.get(a), h = theirs.get(a);
            for (int i = 0; i < g.length; i++) g[i] += h[i];
        }
    }

    /** Multiplies every gradient by {@code factor}. */
    public void scale(float factor) {
        List<float[]> arrays = grads.arrays();
        int dim = config.dim();
        for (int row = touchedRows.nextSetBit(0); row >= 0; row = touchedRows.nextSetBit(row + 1)) {
            for (int i = row * dim; i < (row + 1) * dim; i++) grads.embedding()[i] *= factor;
        }
        for (int a = 1; a < arrays.size(); a++) {
            float[] g = arrays.get(a);
            for (int i = 0; i < g.length; i++) g[i] *= factor;
        }
    }

    /** The L2 norm over every gradient. */
    public double norm() {
        double sum = 0;
        List<float[]> arrays = grads.arrays();
        int dim = config.dim();
        for (int row = touchedRows.nextSetBit(0); row >= 0; row = touchedRows.nextSetBit(row + 1)) {
            for (int i = row * dim; i < (row + 1) * dim; i++) sum += (double) grads.embedding()[i] * grads.embedding()[i];
        }
        for (int a = 1; a < arrays.size(); a++) {
            for (float g : arrays.get(a)) sum += (double) g * g;
        }
        return Math.sqrt(sum);
    }
}
