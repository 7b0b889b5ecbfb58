package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums the lanes of a vector in a fixed pairwise order: fold the upper half of the lanes onto the lower
 * half, then the upper quarter onto the lower quarter, and so on ({@code v[i] + v[i + half]}).
 * {@code reduceLanes(ADD)} may add in one order when interpreted and another when compiled, so the same
 * input could give results that differ in the last bit before and after warm-up; lane-wise adds of fixed
 * shuffles are exact in every mode, which keeps a forward pass bit-for-bit reproducible (two pipeline
 * stages then equal the whole model exactly).
 *
 * <p>{@link #merge} folds two vectors at once with exactly the same additions, so a kernel with many
 * accumulators reduces them all together (16 vectors in 15 merges) and still gets, for each accumulator,
 * the bits that {@link #sum} gives. The code is straight-line on purpose: C2 must see the exact vector
 * class at every operation to use vector instructions.
 */
public final class LaneSums {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    public static final int LANES = SPECIES.length();
    /** Whether {@link #merge} applies: it is written for 16-lane (512-bit) vectors. */
    public static final boolean MERGEABLE = LANES == 16;

    private static final VectorShuffle<Float> ROTATE8 = rotate(8);
    private static final VectorShuffle<Float> ROTATE4 = rotate(4);
    private static final VectorShuffle<Float> ROTATE2 = rotate(2);
    private static final VectorShuffle<Float> ROTATE1 = rotate(1);
    private static final VectorShuffle<Float> SWAP8 = swap(8);
    private static final VectorShuffle<Float> SWAP4 = swap(4);
    private static final VectorShuffle<Float> SWAP2 = swap(2);
    private static final VectorShuffle<Float> SWAP1 = swap(1);
    private static final VectorMask<Float> HIGH8 = high(8);
    private static final VectorMask<Float> HIGH4 = high(4);
    private static final VectorMask<Float> HIGH2 = high(2);
    private static final VectorMask<Float> HIGH1 = high(1);

    private LaneSums() {}

    public static float sum(FloatVector v) {
        if (LANES >= 16) v = v.add(v.rearrange(ROTATE8));
        if (LANES >= 8) v = v.add(v.rearrange(ROTATE4));
        if (LANES >= 4) v = v.add(v.rearrange(ROTATE2));
        if (LANES >= 2) v = v.add(v.rearrange(ROTATE1));
        return v.lane(0);
    }

    /**
     * One folding step (distance {@code half}, 8 then 4, 2, 1) of two vectors into one: lanes whose
     * {@code half} bit is clear hold {@code a[i] + a[i + half]}, the others {@code b[i] + b[i - half]}.
     * After the four steps over 16 accumulators paired in order (0,1), (2,3)... then the results paired
     * in order again, accumulator j's sum is in the lane whose 4-bit index is j's bits reversed.
     */
    public static FloatVector merge(FloatVector a, FloatVector b, int half) {
        return switch (half) {
            case 8 -> merge8(a, b);
            case 4 -> merge4(a, b);
            case 2 -> merge2(a, b);
            case 1 -> merge1(a, b);
            default -> throw new IllegalArgumentException("half must be 8, 4, 2 or 1, got " + half);
        };
    }

    /** {@link #merge} with half 8; the fixed-distance forms are small enough for C2 to inline everywhere. */
    public static FloatVector merge8(FloatVector a, FloatVector b) {
        return a.blend(b, HIGH8).add(a.rearrange(SWAP8).blend(b.rearrange(SWAP8), HIGH8));
    }

    public static FloatVector merge4(FloatVector a, FloatVector b) {
        return a.blend(b, HIGH4).add(a.rearrange(SWAP4).blend(b.rearrange(SWAP4), HIGH4));
    }

    public static FloatVector merge2(FloatVector a, FloatVector b) {
        return a.blend(b, HIGH2).add(a.rearrange(SWAP2).blend(b.rearrange(SWAP2), HIGH2));
    }

    public static FloatVector merge1(FloatVector a, FloatVector b) {
        return a.blend(b, HIGH1).add(a.rearrange(SWAP1).blend(b.rearrange(SWAP1), HIGH1));
    }

    /** Lane i takes lane (i + distance) mod LANES. */
    private static VectorShuffle<Float> rotate(int distance) {
        return VectorShuffle.fromOp(SPECIES, i -> (i + distance) % LANES);
    }

    /** Lane i takes lane i XOR distance. */
    private static VectorShuffle<Float> swap(int distance) {
        return VectorShuffle.fromOp(SPECIES, i -> (i ^ distance) % LANES);
    }

    /** Lanes whose {@code bit} is set. */
    private static VectorMask<Float> high(int bit) {
        boolean[] set = new boolean[LANES];
        for (int i = 0; i < LANES; i++) set[i] = (i & bit) != 0;
        return VectorMask.fromArray(SPECIES, set, 0);
    }
}
