package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums the lanes of a vector in a fixed pairwise order. {@code reduceLanes(ADD)} may add in one order when
 * interpreted and another when compiled, so the same input could give results that differ in the last bit
 * before and after warm-up; lane-wise adds of fixed shuffles are exact in every mode, which keeps a forward
 * pass bit-for-bit reproducible (two pipeline stages then equal the whole model exactly).
 */
public final class LaneSums {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Shuffles that fold the upper half of the lanes onto the lower half: lane i takes lane i + half. */
    private static final VectorShuffle<Float>[] FOLDS = folds();

    private LaneSums() {}

    public static float sum(FloatVector v) {
        for (VectorShuffle<Float> fold : FOLDS) v = v.add(v.rearrange(fold));
        return v.lane(0);
    }

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] folds() {
        int lanes = SPECIES.length();
        int steps = Integer.numberOfTrailingZeros(lanes);
        VectorShuffle<Float>[] folds = new VectorShuffle[steps];
        for (int s = 0, half = lanes / 2; half >= 1; s++, half /= 2) {
            int h = half;
            folds[s] = VectorShuffle.fromOp(SPECIES, i -> (i + h) % lanes);
        }
        return folds;
    }
}
