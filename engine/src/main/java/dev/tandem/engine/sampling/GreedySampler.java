package dev.tandem.engine.sampling;

/** The most likely token (the first one when several tie, as run.c's {@code sample_argmax}). Stateless. */
public final class GreedySampler implements Sampler {

    @Override
    public int sample(float[] logits, int off, int vocab) {
        return argmax(logits, off, vocab);
    }

    /** Index (relative to {@code off}) of the largest of {@code values[off .. off + n)}; ties go to the lowest. */
    public static int argmax(float[] values, int off, int n) {
        if (n <= 0) throw new IllegalArgumentException("empty vocabulary");
        int best = 0;
        float max = values[off];
        for (int i = 1; i < n; i++) {
            if (values[off + i] > max) {
                max = values[off + i];
                best = i;
            }
        }
        return best;
    }
}
