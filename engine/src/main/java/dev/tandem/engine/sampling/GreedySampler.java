package dev.tandem.engine.sampling;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The most likely token (the first one when several tie, as run.c's {@code sample_argmax}). Stateless. */
public final class GreedySampler implements Sampler {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    @Override
    public int sample(float[] logits, int off, int vocab) {
        return argmax(logits, off, vocab);
    }

    /**
     * Index (relative to {@code off}) of the largest of {@code values[off .. off + n)}; ties go to the lowest.
     * Exactly the scalar scan {@code if (v[i] > max) best = i} (so a NaN never wins, and a leading NaN gives 0),
     * in two vector passes: the maximum under {@code >}, then the first index equal to it. A greedy step reads a
     * whole vocabulary row (32,000 floats for stories15M) on the serving path, where the scalar scan's
     * data-dependent branch cost more than a tenth of a pipeline stage's forward.
     */
    public static int argmax(float[] values, int off, int n) {
        if (n <= 0) throw new IllegalArgumentException("empty vocabulary");
        float first = values[off];
        if (Float.isNaN(first)) return 0;
        int upper = SPECIES.loopBound(n);
        FloatVector lanes = FloatVector.broadcast(SPECIES, first);
        int i = 0;
        for (; i < upper; i += SPECIES.length()) {
            FloatVector v = FloatVector.fromArray(SPECIES, values, off + i);
            lanes = lanes.blend(v, v.compare(VectorOperators.GT, lanes)); // NaN is never greater: never taken
        }
        float max = lanes.reduceLanes(VectorOperators.MAX); // no lane is NaN
        for (; i < n; i++) {
            if (values[off + i] > max) max = values[off + i];
        }
        FloatVector target = FloatVector.broadcast(SPECIES, max);
        for (i = 0; i < upper; i += SPECIES.length()) {
            VectorMask<Float> equal = FloatVector.fromArray(SPECIES, values, off + i).compare(VectorOperators.EQ, target);
            if (equal.anyTrue()) return i + equal.firstTrue();
        }
        for (; i < n; i++) {
            if (values[off + i] == max) return i;
        }
        throw new AssertionError("the maximum " + max + " is in the row");
    }
}
