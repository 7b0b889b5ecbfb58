package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The vector exponentials give the scalar {@code (float) Math.exp} bits, which the forward pass's softmax and
 * SwiGLU (and so the reference texts) rest on: over ordinary values, the extremes that round to 0 or overflow, and
 * values that are not finite.
 */
class ExponentialsTest {

    @Test
    void vectorExponentialsGiveTheScalarBits() {
        SplittableRandom random = new SplittableRandom(5);
        float[] special = {0f, -0f, 1f, -1f, 88.7f, 89f, -87.3f, -104f, -150f, 1e-30f, Float.MIN_VALUE, Float.MAX_VALUE,
                -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        for (int round = 0; round < 500; round++) {
            int n = 1 + random.nextInt(300); // also lengths that leave a scalar tail
            float[] x = new float[n + 3];
            for (int i = 0; i < x.length; i++) {
                x[i] = round == 0 && i < special.length ? special[i] : (float) (random.nextGaussian() * (1 + round % 20));
            }
            float shift = round % 3 == 0 ? 0f : (float) random.nextGaussian();
            float[] expected = x.clone();
            for (int i = 0; i < n; i++) expected[2 + i] = (float) Math.exp(x[2 + i] - shift);
            float[] got = x.clone();
            Exponentials.expShifted(got, 2, n, shift);
            for (int i = 0; i < x.length; i++) {
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(got[i]),
                        "x = " + x[i] + ", shift " + shift + " at " + i);
            }
        }
    }
}
