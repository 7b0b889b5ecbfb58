package dev.tandem.trainer.sample;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Extracts what a sample keeps of one target logits row: the k highest logits (highest first, ties to the
 * lower id, so entry 0 is the greedy token) and the log of the softmax normalizer over the whole row.
 * One pass for the top-k (an insertion into a small sorted array, rare once it fills) and a vectorized
 * pass for log-sum-exp. Reused; not thread-safe.
 */
public final class TopKSelector {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    private final int k;
    private final int[] ids;
    private final float[] values;

    public TopKSelector(int k) {
        if (k < 1) throw new IllegalArgumentException("k must be >= 1");
        this.k = k;
        this.ids = new int[k];
        this.values = new float[k];
    }

    public int k() { return k; }

    /** Selects from logits[off .. off + n) into ids/values at {@code outOff}; returns the log-normalizer. */
    public float select(float[] logits, int off, int n, int[] outIds, float[] outValues, int outOff) {
        int filled = 0;
        for (int t = 0; t < n; t++) {
            float v = logits[off + t];
            if (filled == k && v <= values[k - 1]) continue;
            int at = Math.min(filled, k - 1);
            while (at > 0 && values[at - 1] < v) {
                values[at] = values[at - 1];
                ids[at] = ids[at - 1];
                at--;
            }
            values[at] = v;
            ids[at] = t;
            if (filled < k) filled++;
        }
        System.arraycopy(ids, 0, outIds, outOff, filled);
        System.arraycopy(values, 0, outValues, outOff, filled);
        return logSumExp(logits, off, n, values[0]);
    }

    static float logSumExp(float[] x, int off, int n, float max) {
        int i = 0;
        int upper = SPECIES.loopBound(n);
        FloatVector m = FloatVector.broadcast(SPECIES, max);
        FloatVector acc = FloatVector.zero(SPECIES);
        for (; i < upper; i += SPECIES.length()) {
            acc = acc.add(FloatVector.fromArray(SPECIES, x, off + i).sub(m).lanewise(VectorOperators.EXP));
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += Math.exp(x[off + i] - max);
        return (float) (max + Math.log(sum));
    }
}
