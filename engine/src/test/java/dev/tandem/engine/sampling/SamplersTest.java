package dev.tandem.engine.sampling;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class SamplersTest {

    private static final int VOCAB = 1000;

    private static float[] randomLogits(Random random, int n) {
        float[] logits = new float[n];
        for (int i = 0; i < n; i++) logits[i] = (float) random.nextGaussian() * 3f;
        return logits;
    }

    /** Logits whose softmax is exactly {@code probs}. */
    private static float[] logitsOf(double... probs) {
        float[] logits = new float[probs.length];
        for (int i = 0; i < probs.length; i++) logits[i] = (float) Math.log(probs[i]);
        return logits;
    }

    @Test
    void greedyPicksTheArgmaxAndTheLowestOnTies() {
        var greedy = new GreedySampler();
        assertEquals(2, greedy.sample(new float[] {0.1f, -3f, 5f, 4.9f}, 0, 4));
        assertEquals(1, greedy.sample(new float[] {1f, 7f, 7f, 7f}, 0, 4));
        assertEquals(0, greedy.sample(new float[] {-1f, -1f}, 0, 2));
        // the offset selects a row; the answer is relative to it
        assertEquals(1, greedy.sample(new float[] {9f, 9f, 0f, 1f}, 2, 2));
    }

    @Test
    void aSeedReproducesARun() {
        for (SamplerSettings s : new SamplerSettings[] {
                new SamplerSettings(1f, 0, 1f, 1234), new SamplerSettings(0.8f, 0, 0.9f, 1234),
                new SamplerSettings(1.2f, 40, 1f, 1234), new SamplerSettings(1f, 40, 0.95f, 1234)}) {
            int[] first = run(s);
            assertArrayEquals(first, run(s), s.toString());
            assertFalse(java.util.Arrays.equals(first, run(new SamplerSettings(s.temperature(), s.topK(), s.topP(), 99))));
        }
    }

    private static int[] run(SamplerSettings settings) {
        Sampler sampler = Samplers.create(settings, VOCAB);
        Random logitsSource = new Random(5);
        int[] tokens = new int[200];
        for (int t = 0; t < tokens.length; t++) tokens[t] = sampler.sample(randomLogits(logitsSource, VOCAB), 0, VOCAB);
        return tokens;
    }

    @Test
    void temperatureOneFollowsTheSoftmax() {
        double[] probs = {0.5, 0.25, 0.15, 0.07, 0.03};
        int[] counts = count(new SamplerSettings(1f, 0, 1f, 77), logitsOf(probs), 100_000);
        assertChiSquareFits(probs, counts);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        double[] probs = {0.6, 0.3, 0.1};
        // softmax(log p / T) is p^(1/T) renormalized
        for (float t : new float[] {0.5f, 2f}) {
            double[] expected = new double[probs.length];
            double sum = 0;
            for (int i = 0; i < probs.length; i++) sum += expected[i] = Math.pow(probs[i], 1 / t);
            for (int i = 0; i < probs.length; i++) expected[i] /= sum;
            assertChiSquareFits(expected, count(new SamplerSettings(t, 0, 1f, 8), logitsOf(probs), 50_000));
        }
    }

    @Test
    void topKOfOneIsGreedy() {
        Random random = new Random(3);
        Sampler topK = Samplers.create(new SamplerSettings(1.5f, 1, 1f, 11), VOCAB);
        Sampler greedy = new GreedySampler();
        for (int t = 0; t < 200; t++) {
            float[] logits = randomLogits(random, VOCAB);
            assertEquals(greedy.sample(logits.clone(), 0, VOCAB), topK.sample(logits, 0, VOCAB));
        }
    }

    @Test
    void topKOfOneBreaksTiesTowardTheLowestIdLikeGreedy() {
        Sampler topK = Samplers.create(new SamplerSettings(1f, 1, 1f, 11));
        for (int t = 0; t < 20; t++) assertEquals(1, topK.sample(new float[] {0f, 2f, 1f, 2f, 2f}, 0, 5));
    }

    @Test
    void topKKeepsTheKMostLikelyInProportion() {
        double[] probs = {0.05, 0.4, 0.1, 0.3, 0.15};
        int[] counts = count(new SamplerSettings(1f, 2, 1f, 21), logitsOf(probs), 50_000);
        assertEquals(0, counts[0] + counts[2] + counts[4]);
        assertChiSquareFits(new double[] {0, 0.4 / 0.7, 0, 0.3 / 0.7, 0}, counts);
    }

    @Test
    void topPExcludesTheTail() {
        double[] probs = {0.15, 0.5, 0.05, 0.3};
        // cumulative 0.5, 0.8 > 0.7: the nucleus is {1, 3}
        int[] counts = count(new SamplerSettings(1f, 0, 0.7f, 5), logitsOf(probs), 50_000);
        assertEquals(0, counts[0] + counts[2]);
        assertChiSquareFits(new double[] {0, 0.5 / 0.8, 0, 0.3 / 0.8}, counts);
    }

    @Test
    void topKThenTopPWithinTheRenormalizedMass() {
        double[] probs = {0.4, 0.3, 0.2, 0.1};
        // top-3 mass 0.9, p = 0.6 of it is 0.54: 0.4, 0.7 > 0.54 -> nucleus {0, 1}
        int[] counts = count(new SamplerSettings(1f, 3, 0.6f, 5), logitsOf(probs), 50_000);
        assertEquals(0, counts[2] + counts[3]);
        assertChiSquareFits(new double[] {0.4 / 0.7, 0.3 / 0.7, 0, 0}, counts);
    }

    @Test
    void tinyTopPOnAFlatDistributionPicksTheFirstToken() {
        Sampler s = Samplers.create(new SamplerSettings(1f, 0, 0.01f, 5), 2);
        assertEquals(0, s.sample(new float[] {1f, 1f}, 0, 2));
        Sampler single = Samplers.create(new SamplerSettings(1f, 0, 0.5f, 5));
        assertEquals(0, single.sample(new float[] {3f}, 0, 1));
    }

    @Test
    void samplesARowAtAnOffsetAndGrowsBuffersOnDemand() {
        Sampler s = Samplers.create(new SamplerSettings(1f, 2, 0.9f, 5));
        float[] rows = {50f, 0f, 0f, 0f, 50f, 0f};
        assertEquals(1, s.sample(rows, 3, 3));
    }

    @Test
    void samplingAllocatesNothingAfterConstruction() throws Exception {
        // In a JVM of its own (see SamplerAllocationProbe): whether this JVM's kernels are compiled depends on the tests before.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                SamplerAllocationProbe.class.getName()).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(2, TimeUnit.MINUTES), "the probe did not end");
        assertEquals(0, child.exitValue(), "sampling allocated after warm-up:\n" + output);
        assertEquals(4, output.lines().filter(l -> l.contains(" allocated 0 bytes") || l.matches(".* allocated \\d{1,3} bytes.*")).count(), output);
    }

    private static int[] count(SamplerSettings settings, float[] logits, int draws) {
        Sampler sampler = Samplers.create(settings, logits.length);
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) counts[sampler.sample(logits.clone(), 0, logits.length)]++;
        return counts;
    }

    /** Pearson's chi-square over the categories with nonzero expectation, at the 0.1% level. */
    private static void assertChiSquareFits(double[] expectedProbs, int[] counts) {
        long total = 0;
        for (int c : counts) total += c;
        double chi2 = 0;
        int categories = 0;
        for (int i = 0; i < counts.length; i++) {
            if (expectedProbs[i] == 0) continue;
            double expected = expectedProbs[i] * total;
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            categories++;
        }
        // 99.9% quantiles of chi-square with 1..4 degrees of freedom
        double[] critical = {10.83, 13.82, 16.27, 18.47};
        assertTrue(chi2 < critical[categories - 2], "chi-square " + chi2 + " for counts " + java.util.Arrays.toString(counts));
    }
}
