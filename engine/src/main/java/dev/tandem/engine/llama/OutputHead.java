package dev.tandem.engine.llama;

import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.WeightMatrix;

/**
 * A last stage's final norm and output head, to turn the hidden states it returned (the residual stream after the
 * model's last layer, {@link StageOutput#hidden()}) into the float32 logits a {@link RowOutput#LOGITS} row would have
 * had, later and on another thread: online distillation's recorder keeps a greedy row's hidden state on the serving
 * path and computes its teacher logits in idle time. Reads weights only, so any thread may use it with its own
 * buffers.
 */
public final class OutputHead {

    private final float[] finalNorm;
    private final WeightMatrix output;
    private final int dim;
    private final float eps;

    OutputHead(ModelWeights weights) {
        this.finalNorm = weights.finalNorm();
        this.output = weights.output();
        this.dim = weights.config().dim();
        this.eps = weights.config().normEps();
    }

    public int dim() { return dim; }

    public int vocabSize() { return output.rows(); }

    /** Whether its weights can still be read: a stage that stops (a rebalance, an unload) closes the memory they live in. */
    public boolean isAlive() {
        return output.segment().scope().isAlive();
    }

    /** The final norm of {@code rows} hidden rows at {@code hidden[off ..]} into {@code normed[0 .. rows * dim)}. */
    public void normalize(float[] hidden, int off, int rows, float[] normed) {
        for (int r = 0; r < rows; r++) Kernels.rmsNorm(hidden, off + r * dim, finalNorm, normed, r * dim, dim, eps);
    }

    /**
     * Logits of {@code rows} normalized rows over the vocabulary range [from, to): row r's logit v goes to
     * {@code out[r * vocabSize() + v]}. Split the vocabulary to keep each call short.
     */
    public void logits(float[] normed, int rows, float[] out, int from, int to) {
        output.matmul(normed, 0, dim, rows, out, 0, vocabSize(), from, to);
    }
}
