package dev.tandem.engine.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float exponentials a vector at a time, computed as {@code (float) Math.exp(v)} is: widened to double,
 * exponentiated there and rounded to float once, so that they give the scalar loop's bits (2,000 rows of 768
 * values, none differed) at a third of its time (3.5 against 11.6 ns a value, 2-core AVX2 EPYC). A float-precision
 * exponential would be faster still but would round differently from run.c's {@code expf}, which the reference
 * texts come from. The float species has as many lanes as the preferred double one.
 */
public final class Exponentials {

    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    /** Floats per step of the vector loops: one lane per lane of the preferred double vector. */
    public static final VectorSpecies<Float> SPECIES =
            VectorSpecies.of(float.class, VectorShape.forBitSize(DOUBLES.length() * Float.SIZE));

    private Exponentials() {}

    /**
     * {@code x[i] = (float) Math.exp(x[i] - shift)} for i in [off, off + n) (the subtraction in float). There is no
     * vector-to-vector helper: a call that C2 does not inline (its callee first compiled by C1, "already compiled into
     * a big method") leaves every vector operation allocating for the life of the process. Such a helper did so under
     * the samplers' softmax in the engine's test JVM (~512 KB a 32,000-token row after 30 s of calls), so the loops
     * that need an exponential (here, {@code Kernels.softmax}, {@code Kernels.swiGlu}) write these three lines out.
     */
    public static void expShifted(float[] x, int off, int n, float shift) {
        int i = 0;
        for (int upper = SPECIES.loopBound(n); i < upper; i += SPECIES.length()) {
            DoubleVector wide = (DoubleVector) FloatVector.fromArray(SPECIES, x, off + i).sub(shift)
                    .convertShape(VectorOperators.F2D, DOUBLES, 0);
            ((FloatVector) wide.lanewise(VectorOperators.EXP).convertShape(VectorOperators.D2F, SPECIES, 0)).intoArray(x, off + i);
        }
        for (; i < n; i++) x[off + i] = (float) Math.exp(x[off + i] - shift);
    }
}
