package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.SamplingDistribution;
import dev.tandem.engine.sampling.StochasticSampler;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The dense distribution the acceptance test uses is the one the stochastic sampler draws from. */
class SamplingDistributionTest {

    private static final int VOCAB = 10;
    private static final int DRAWS = 40_000;

    @ParameterizedTest
    @CsvSource({"1.0, 0, 1.0", "0.7, 0, 0.8", "1.2, 4, 1.0", "1.0, 5, 0.7", "0.5, 0, 0.3"})
    void theStochasticSamplerFollowsIt(float temperature, int topK, float topP) {
        float[] logits = {1.2f, 0.3f, 2.0f, -1f, 0.9f, 0.9f, 1.7f, -0.2f, 0.5f, 2.1f};
        SamplerSettings s = new SamplerSettings(temperature, topK, topP, 11);
        float[] p = new float[VOCAB];
        new SamplingDistribution(s, VOCAB).compute(logits, 0, VOCAB, p, 0);
        double sum = 0;
        double[] expected = new double[VOCAB];
        for (int i = 0; i < VOCAB; i++) {
            sum += p[i];
            expected[i] = p[i];
        }
        assertEquals(1.0, sum, 1e-5);
        StochasticSampler sampler = new StochasticSampler(s, VOCAB);
        long[] counts = new long[VOCAB];
        for (int i = 0; i < DRAWS; i++) counts[sampler.sample(logits.clone(), 0, VOCAB)]++;
        for (int i = 0; i < VOCAB; i++) if (p[i] == 0) assertEquals(0, counts[i], "token " + i + " is outside the support");
        ChiSquare.Result fit = ChiSquare.test(counts, expected);
        assertTrue(fit.pValue() > 0.01, fit.toString());
    }
}
