package dev.tandem.engine.llama;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The attention kernels give every value the bits of a plain scalar loop in a fixed order, whatever their
 * vector width and blocking: a score or an attended value must not depend on the kernel's unrolling (nor on the
 * batch, which only changes which rows run), or greedy text would drift from the reference.
 */
class KernelsTest {

    private static final int P = KvCache.PAGE_POSITIONS;
    private static final int[] HEAD_DIMS = {8, 12, 24, 40, 48, 64, 72, 96, 100};

    @Test
    void weightedValuesAddEachPositionInOrder() {
        SplittableRandom random = new SplittableRandom(7);
        for (int headDim : HEAD_DIMS) {
            int rowStride = headDim * 3 + 5; // other heads' values between a slot's rows
            int valueCol = headDim + 2;
            for (int n : new int[] {1, 2, 15, 16, 17, 33, 70}) {
                int pageCount = (n + P - 1) / P;
                float[][] pages = new float[pageCount][valueCol + P * rowStride];
                for (float[] page : pages) for (int i = 0; i < page.length; i++) page[i] = (float) random.nextGaussian();
                float[] weights = new float[n];
                for (int t = 0; t < n; t++) weights[t] = (float) random.nextDouble();
                float[] out = new float[headDim + 3];
                Kernels.weightedValues(weights, n, pages, valueCol, rowStride, out, 3, headDim);
                for (int j = 0; j < headDim; j++) {
                    float expected = 0f;
                    for (int t = 0; t < n; t++) expected = Math.fma(pages[t / P][valueCol + (t % P) * rowStride + j], weights[t], expected);
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(out[3 + j]),
                            "headDim " + headDim + ", n " + n + ", component " + j);
                }
            }
        }
    }

    @Test
    void keyScoresSumFourInterleavedPartialsPerPosition() {
        SplittableRandom random = new SplittableRandom(11);
        for (int headDim : HEAD_DIMS) {
            int keyCol = 5 * P;
            float[] page = new float[keyCol + headDim * P + 7];
            for (int i = 0; i < page.length; i++) page[i] = (float) random.nextGaussian();
            float[] q = new float[headDim + 4];
            for (int i = 0; i < q.length; i++) q[i] = (float) random.nextGaussian();
            float scale = (float) (1.0 / Math.sqrt(headDim));
            float[] scores = new float[P + 2];
            Kernels.keyScores(q, 4, page, keyCol, headDim, scale, scores, 2);
            for (int s = 0; s < P; s++) {
                // Partial k adds components i = k mod 4 in order (a remainder past the last four goes to partial 0).
                float[] partial = new float[4];
                int whole = headDim / 4 * 4;
                for (int i = 0; i < whole; i++) partial[i % 4] = Math.fma(page[keyCol + i * P + s], q[4 + i], partial[i % 4]);
                for (int i = whole; i < headDim; i++) partial[0] = Math.fma(page[keyCol + i * P + s], q[4 + i], partial[0]);
                float expected = ((partial[0] + partial[1]) + (partial[2] + partial[3])) * scale;
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(scores[2 + s]), "headDim " + headDim + ", slot " + s);
            }
        }
    }
}
