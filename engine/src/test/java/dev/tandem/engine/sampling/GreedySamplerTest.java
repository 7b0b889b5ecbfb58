package dev.tandem.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The vectorized argmax answers exactly as the scalar scan run.c uses, on every kind of row. */
class GreedySamplerTest {

    /** run.c's sample_argmax. */
    private static int scalar(float[] v, int off, int n) {
        int best = 0;
        float max = v[off];
        for (int i = 1; i < n; i++) {
            if (v[off + i] > max) {
                max = v[off + i];
                best = i;
            }
        }
        return best;
    }

    private static final float[] SPECIALS = {Float.NaN, 0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, 1f, -1f};

    @Test
    void matchesTheScalarScanOnRandomRowsWithTiesAndSpecialValues() {
        SplittableRandom random = new SplittableRandom(7);
        for (int trial = 0; trial < 20_000; trial++) {
            int n = 1 + random.nextInt(trial % 10 == 0 ? 40_000 : 100);
            int off = random.nextInt(5);
            float[] v = new float[off + n + random.nextInt(3)];
            int mode = trial % 4;
            for (int i = 0; i < v.length; i++) {
                v[i] = switch (mode) {
                    case 0 -> (float) random.nextGaussian() * 4;
                    case 1 -> random.nextInt(3); // many ties
                    case 2 -> random.nextInt(8) == 0 ? SPECIALS[random.nextInt(SPECIALS.length)] : (float) random.nextGaussian();
                    default -> SPECIALS[random.nextInt(SPECIALS.length)];
                };
            }
            assertEquals(scalar(v, off, n), GreedySampler.argmax(v, off, n), "trial " + trial + " n " + n + " mode " + mode);
        }
    }

    @Test
    void leadingNanAndSignedZerosBehaveAsTheScalarScan() {
        assertEquals(0, GreedySampler.argmax(new float[] {Float.NaN, 5f, 9f}, 0, 3));
        assertEquals(0, GreedySampler.argmax(new float[] {-0f, 0f, -0f}, 0, 3));
        float[] late = new float[100];
        java.util.Arrays.fill(late, -1f);
        late[97] = 3f;
        late[98] = 3f;
        assertEquals(97, GreedySampler.argmax(late, 0, 100));
        assertEquals(96, GreedySampler.argmax(late, 1, 99));
        assertThrows(IllegalArgumentException.class, () -> GreedySampler.argmax(late, 0, 0));
    }
}
