package dev.tandem.trainer.distill;

import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The products split over an installed pool give exactly what the training thread computes alone. */
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

    private static float[][] products(float[] x, float[] w, float[] dy) {
        float[] y = new float[ROWS * OUT];
        float[] dx = new float[ROWS * IN];
        float[] dw = new float[OUT * IN];
        TrainingKernels.matmul(x, ROWS, IN, w, OUT, y);
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
