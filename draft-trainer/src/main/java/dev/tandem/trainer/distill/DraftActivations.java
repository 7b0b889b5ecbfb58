package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;

/**
 * What the forward pass over one token sequence keeps for the backward pass: per layer the inputs of both
 * norms and their inverse RMS, the normed inputs, rotated queries and keys, values, attention weights, the
 * attention output, and the feed-forward gate, up and SwiGLU values; then the final normed rows and the
 * logits of the rows that predict a recorded position. Sized for a maximum length and reused.
 */
final class DraftActivations {

    final DraftConfig config;
    final int capacity;
    final Layer[] layers;
    /** Token ids of the rows. */
    final int[] tokens;
    /** The residual stream after the last layer, rows x dim. */
    final float[] xOut;
    int rows;

    /** Rows (positions) whose logits are computed, and for each its final norm's input scale and output. */
    int[] logitRows = new int[0];
    int logitCount;
    float[] finalInv = new float[0];
    float[] finalNormed = new float[0];
    float[] logits = new float[0];

    DraftActivations(DraftConfig c, int capacity) {
        this.config = c;
        this.capacity = capacity;
        this.layers = new Layer[c.nLayers()];
        for (int l = 0; l < layers.length; l++) layers[l] = new Layer(c, capacity);
        this.tokens = new int[capacity];
        this.xOut = new float[capacity * c.dim()];
    }

    void ensureLogitRows(int n) {
        if (logitRows.length >= n) return;
        logitRows = new int[n];
        finalInv = new float[n];
        finalNormed = new float[n * config.dim()];
        logits = new float[n * config.headSize()];
    }

    /** Activations of one block. */
    static final class Layer {
        final float[] xIn;        // residual stream entering the block
        final float[] inv1;       // inverse RMS of xIn
        final float[] n1;         // attention-normed input
        final float[] q;          // rotated queries, rows x dim
        final float[] k;          // rotated keys, rows x kvDim
        final float[] v;          // values, rows x kvDim
        final float[] att;        // attention weights, [row][head][0..row]
        final float[] o;          // attention output before wo, rows x dim
        final float[] xMid;       // residual stream after attention
        final float[] inv2;
        final float[] n2;
        final float[] gate;       // w1 n2, rows x hidden
        final float[] up;         // w3 n2
        final float[] act;        // silu(gate) * up
        final float[] expNegGate; // exp(-gate), kept for the backward pass's sigmoid (exp dominated both passes' elementwise work)

        Layer(DraftConfig c, int rows) {
            int dim = c.dim();
            int kv = c.kvDim();
            int hidden = c.hiddenDim();
            xIn = new float[rows * dim];
            inv1 = new float[rows];
            n1 = new float[rows * dim];
            q = new float[rows * dim];
            k = new float[rows * kv];
            v = new float[rows * kv];
            att = new float[rows * c.nHeads() * rows];
            o = new float[rows * dim];
            xMid = new float[rows * dim];
            inv2 = new float[rows];
            n2 = new float[rows * dim];
            gate = new float[rows * hidden];
            up = new float[rows * hidden];
            act = new float[rows * hidden];
            expNegGate = new float[rows * hidden];
        }
    }
}
