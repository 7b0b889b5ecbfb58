package dev.tandem.trainer.distill;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each divergence: its gradient with respect to the logits against finite differences, and its known values. */
class DivergenceTest {

    private static final int N = 7;

    @Test
    void gradientsMatchFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        for (Divergence d : Divergence.values()) {
            for (int trial = 0; trial < 5; trial++) {
                double[] p = new double[N];
                double sum = 0;
                for (int j = 0; j < N; j++) sum += p[j] = 0.05 + r.nextDouble();
                double outside = 0.2 * r.nextDouble();
                for (int j = 0; j < N; j++) p[j] *= (1 - outside) / sum;
                float[] logits = new float[N];
                for (int j = 0; j < N; j++) logits[j] = (float) (r.nextDouble() * 4 - 2);
                float[] grad = new float[N];
                double weight = 0.5 + r.nextDouble();
                d.loss(p, outside, logits, 0, N, weight, grad, 0, new double[N], new double[N]);
                for (int j = 0; j < N; j++) {
                    float saved = logits[j];
                    float h = 1e-3f;
                    logits[j] = saved + h;
                    double up = d.loss(p, outside, logits, 0, N, 1, new float[N], 0, new double[N], new double[N]);
                    float u = logits[j];
                    logits[j] = saved - h;
                    double down = d.loss(p, outside, logits, 0, N, 1, new float[N], 0, new double[N], new double[N]);
                    float dn = logits[j];
                    logits[j] = saved;
                    double numeric = weight * (up - down) / ((double) u - dn);
                    assertEquals(numeric, grad[j], 1e-4 + 1e-3 * Math.abs(numeric), d + " logit " + j);
                }
            }
        }
    }

    @Test
    void knownValues() {
        double[] p = {0.5, 0.5};
        float[] equal = {0f, 0f};
        float[] sure = {30f, -30f};
        double[] s1 = new double[2];
        double[] s2 = new double[2];
        float[] g = new float[2];
        for (Divergence d : Divergence.values()) {
            assertEquals(0, d.loss(p, 0, equal, 0, 2, 1, g, 0, s1, s2), 1e-9, d + " of equal distributions");
        }
        // q ~ (1, 0) against p = (1/2, 1/2): JSD = log 2 - (1/2)(log 2 + (3/2) log(4/3) ... ) computed exactly below.
        double jsd = 0.5 * (0.5 * Math.log(0.5 / 0.75) + 0.5 * Math.log(0.5 / 0.25)) + 0.5 * Math.log(1 / 0.75);
        assertEquals(jsd, Divergence.JENSEN_SHANNON.loss(p, 0, sure, 0, 2, 1, g, 0, s1, s2), 1e-9);
        assertEquals(0.5, Divergence.TOTAL_VARIATION.loss(p, 0, sure, 0, 2, 1, g, 0, s1, s2), 1e-9);
        // Mass the draft cannot produce: TVD counts it fully, JSD with the mixture's outside bin.
        double[] half = {0.5, 0};
        assertEquals(0.5, Divergence.TOTAL_VARIATION.loss(half, 0.5, sure, 0, 2, 1, g, 0, s1, s2), 1e-9);
        assertTrue(Divergence.JENSEN_SHANNON.loss(half, 0.5, sure, 0, 2, 1, g, 0, s1, s2) <= Math.log(2) + 1e-12);
        assertEquals(Divergence.FORWARD_KL, Divergence.parse("forward-kl"));
        assertEquals(Divergence.JENSEN_SHANNON, Divergence.parse("jsd"));
    }
}
