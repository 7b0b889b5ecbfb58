package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.StochasticSampler;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The verifier on hand-made logits. */
class AcceptanceTestTest {

    private static final int VOCAB = 6;

    /** k + 1 rows whose argmaxes are the given tokens. */
    private static float[] rowsWithArgmax(int... argmax) {
        float[] logits = new float[argmax.length * VOCAB];
        for (int r = 0; r < argmax.length; r++) {
            for (int t = 0; t < VOCAB; t++) logits[r * VOCAB + t] = t * 0.01f;
            logits[r * VOCAB + argmax[r]] = 5f;
        }
        return logits;
    }

    private static Draft certain(int... tokens) {
        Draft d = new Draft(8, VOCAB);
        for (int t : tokens) d.addCertain(t);
        return d;
    }

    private static int[] verify(AcceptanceTest test, float[] logits, Draft draft) {
        int[] out = new int[draft.count() + 1];
        int n = test.verify(logits, 0, draft, out);
        return java.util.Arrays.copyOf(out, n);
    }

    @Test
    void greedyAcceptsWhileDraftsMatchTheArgmaxThenAddsTheTargetsToken() {
        AcceptanceTest greedy = new AcceptanceTest(SamplerSettings.greedy(), VOCAB);
        assertArrayEquals(new int[]{2, 3, 4, 1}, verify(greedy, rowsWithArgmax(2, 3, 4, 1), certain(2, 3, 4)), "all accepted + bonus");
        assertArrayEquals(new int[]{2, 5}, verify(greedy, rowsWithArgmax(2, 5, 4, 1), certain(2, 3, 4)), "second rejected");
        assertArrayEquals(new int[]{0}, verify(greedy, rowsWithArgmax(0, 3, 4, 1), certain(2, 3, 4)), "first rejected");
        assertArrayEquals(new int[]{4}, verify(greedy, rowsWithArgmax(4), certain()), "no draft: a plain step");
    }

    @Test
    void greedyTiesGoToTheLowestIdAsTheGreedySampler() {
        AcceptanceTest greedy = new AcceptanceTest(SamplerSettings.greedy(), VOCAB);
        float[] tie = new float[2 * VOCAB];
        tie[1] = 3f;
        tie[4] = 3f;
        assertArrayEquals(new int[]{1}, verify(greedy, tie, certain(4)));
    }

    @Test
    void withoutDraftsSamplingReproducesTheStochasticSampler() {
        SamplerSettings s = new SamplerSettings(0.9f, 0, 0.9f, 77);
        AcceptanceTest test = new AcceptanceTest(s, VOCAB);
        StochasticSampler sampler = new StochasticSampler(s, VOCAB);
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        for (int i = 0; i < 200; i++) {
            float[] logits = new float[VOCAB];
            for (int t = 0; t < VOCAB; t++) logits[t] = (float) random.nextGaussian();
            int expected = sampler.sample(logits.clone(), 0, VOCAB);
            assertEquals(expected, verify(test, logits, certain())[0], "draw " + i);
        }
    }

    @Test
    void aDraftTokenTheTargetNeverSamplesIsAlwaysRejected() {
        SamplerSettings s = new SamplerSettings(1f, 2, 1f, 5); // top-2: tokens 0 and 1 only
        AcceptanceTest test = new AcceptanceTest(s, VOCAB);
        float[] logits = {3, 2, -1, -1, -1, -1, 3, 2, -1, -1, -1, -1};
        for (int i = 0; i < 100; i++) {
            int[] out = verify(test, logits, certain(4));
            assertEquals(1, out.length);
            assertNotEquals(4, out[0]);
        }
    }

    @Test
    void aDraftWithoutItsDistributionIsRefused() {
        AcceptanceTest test = new AcceptanceTest(new SamplerSettings(1f, 0, 1f, 5), VOCAB);
        Draft d = new Draft(2, VOCAB);
        d.addSampled(3); // q row left at zero
        assertThrows(IllegalStateException.class, () -> verify(test, new float[2 * VOCAB], d));
    }
}
