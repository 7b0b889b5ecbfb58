package dev.tandem.trainer.distill;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.trainer.sample.DistillationSample;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * The products split over an installed pool, and distiller steps whose shards run on it, give exactly what the
 * training thread computes alone.
 */
class ParallelProductsTest {

    private static final int ROWS = 37;
    private static final int IN = 288;
    private static final int OUT = 515;

    @Test
    void splitProductsEqualSerialOnesBitForBit() {
        SplittableRandom random = new SplittableRandom(7);
        float[] x = gaussian(random, ROWS * IN);
        float[] w = gaussian(random, OUT * IN);
        float[] dy = gaussian(random, ROWS * OUT);
        for (int i = 0; i < dy.length; i += 5) dy[i] = 0f; // zero gradients take the skipping paths
        float[][] serial = products(x, w, dy);
        try (ParallelRunner runner = new ParallelRunner(2)) {
            TrainingParallelism.install(runner);
            assertNotNull(TrainingParallelism.forWork((long) ROWS * IN * OUT), "the products are big enough to split");
            float[][] split = products(x, w, dy);
            for (int i = 0; i < serial.length; i++) assertArrayEquals(serial[i], split[i], "product " + i);
        } finally {
            TrainingParallelism.install(null);
        }
    }

    @Test
    void stepsOnAPoolEqualStepsOnOneThreadBitForBit() {
        DraftConfig c = TinyDrafts.gqaConfig();
        SplittableRandom random = new SplittableRandom(11);
        List<DistillationSample> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) batch.add(TinyDrafts.randomSample(random, c.vocabSize(), 6 + i, 4));
        DraftModel alone = DraftModel.random(c, TinyDrafts.reducedVocabulary(c.headSize(), c.vocabSize()), 3);
        DraftModel pooled = DraftModel.random(c, TinyDrafts.reducedVocabulary(c.headSize(), c.vocabSize()), 3);
        Distiller one = new Distiller(alone, DistillerSettings.defaults());
        Distiller two = new Distiller(pooled, DistillerSettings.defaults());
        try (ParallelRunner runner = new ParallelRunner(2)) {
            for (int step = 0; step < 3; step++) {
                Distiller.StepResult serial = one.step(batch);
                TrainingParallelism.install(runner);
                Distiller.StepResult split;
                try {
                    split = two.step(batch);
                } finally {
                    TrainingParallelism.install(null);
                }
                assertEquals(serial.loss(), split.loss(), "loss of step " + step);
                assertEquals(serial.gradientNorm(), split.gradientNorm(), "gradient norm of step " + step);
            }
        }
        List<float[]> a = alone.parameters().arrays(), b = pooled.parameters().arrays();
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "parameter tensor " + i);
    }

    private static float[][] products(float[] x, float[] w, float[] dy) {
        float[] y = new float[ROWS * OUT];
        float[] dx = new float[ROWS * IN];
        float[] dw = new float[OUT * IN];
        TrainingKernels.matmul(x, ROWS, PackedDraftWeights.pack(w, OUT, IN, new float[1][], 0), y);
        TrainingKernels.backInput(dy, ROWS, OUT, w, IN, dx);
        TrainingKernels.backWeight(dy, ROWS, OUT, x, IN, dw);
        return new float[][] {y, dx, dw};
    }

    private static float[] gaussian(SplittableRandom random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }
}
