package dev.tandem.engine.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chi-square p-value the sampling tests rely on: known values, and it does reject a wrong distribution. */
class ChiSquareTest {

    @Test
    void upperIncompleteGammaMatchesKnownValues() {
        assertEquals(Math.exp(-2.5), ChiSquare.upperGammaQ(1, 2.5), 1e-12); // Q(1, x) = e^-x
        assertEquals(0.05, ChiSquare.upperGammaQ(0.5, 3.841459 / 2), 1e-6); // chi2(1) 95th percentile
        assertEquals(0.01, ChiSquare.upperGammaQ(5, 23.209251 / 2), 1e-6); // chi2(10) 99th percentile
        assertEquals(0.5, ChiSquare.upperGammaQ(50, 99.334129 / 2), 1e-6); // chi2(100) median
        assertEquals(Math.log(24), ChiSquare.logGamma(5), 1e-10);
    }

    @Test
    void acceptsASampleOfTheRightDistributionAndRejectsAWrongOne() {
        double[] p = {0.5, 0.3, 0.15, 0.05};
        long[] right = {5030, 2980, 1490, 500};
        long[] wrong = {4700, 3100, 1600, 600};
        assertTrue(ChiSquare.test(right, p).pValue() > 0.5);
        assertTrue(ChiSquare.test(wrong, p).pValue() < 1e-6);
    }
}
