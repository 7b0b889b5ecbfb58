package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.trainer.sample.DistillationSample;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The backward pass against central finite differences, for every parameter tensor of a tiny draft with
 * grouped-query attention and a reduced head, under every divergence. Activations are float, so the
 * differences use a step of 1e-2 and a relative tolerance, on sampled entries of each tensor.
 */
class GradientCheckTest {

    private static final float STEP = 1e-2f;
    private static final double RELATIVE_TOLERANCE = 0.05;
    private static final double ABSOLUTE_TOLERANCE = 2e-4;
    private static final int ENTRIES_PER_TENSOR = 6;

    @Test
    void everyParameterTensorUnderEveryDivergence() {
        for (Divergence d : Divergence.values()) checkModel(d, 11 + d.ordinal());
    }

    private void checkModel(Divergence divergence, long seed) {
        DraftConfig c = TinyDrafts.gqaConfig();
        DraftModel model = DraftModel.random(c, TinyDrafts.reducedVocabulary(c.headSize(), c.vocabSize()), seed);
        // Non-trivial norm gains so that their gradients are exercised away from 1.
        SplittableRandom r = new SplittableRandom(seed);
        for (float[] a : model.parameters().arrays()) {
            if (a.length == c.dim()) for (int i = 0; i < a.length; i++) a[i] = (float) (0.5 + r.nextDouble());
        }
        List<DistillationSample> samples = List.of(TinyDrafts.randomSample(r, c.vocabSize(), 9, 4),
                TinyDrafts.randomSample(r, c.vocabSize(), 7, 4));
        Distiller distiller = new Distiller(model, DistillerSettings.defaults().withDivergence(divergence));
        distiller.gradients().clear();
        for (DistillationSample s : samples) distiller.accumulate(s, 1.0, true);
        DraftParameters grads = distiller.gradients().values();

        List<float[]> params = model.parameters().arrays();
        List<float[]> gradArrays = grads.arrays();
        for (int a = 0; a < params.size(); a++) {
            float[] w = params.get(a);
            float[] g = gradArrays.get(a);
            int[] entries = pickEntries(w.length, g, r, a == 0 ? samples : null, c.dim());
            for (int index : entries) {
                float saved = w[index];
                w[index] = saved + STEP;
                float up = w[index];
                double lossUp = loss(distiller, samples);
                w[index] = saved - STEP;
                float down = w[index];
                double lossDown = loss(distiller, samples);
                w[index] = saved;
                double numeric = (lossUp - lossDown) / ((double) up - down);
                double analytic = g[index];
                double tolerance = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * Math.max(Math.abs(numeric), Math.abs(analytic));
                assertEquals(numeric, analytic, tolerance, divergence + ": tensor " + a + " entry " + index);
            }
        }
    }

    private static double loss(Distiller distiller, List<DistillationSample> samples) {
        double loss = 0;
        for (DistillationSample s : samples) loss += distiller.accumulate(s, 1.0, false);
        return loss;
    }

    /** Entries with the largest gradients plus random ones; for the embedding, entries of rows the samples use. */
    private static int[] pickEntries(int length, float[] g, SplittableRandom r, List<DistillationSample> embeddingOf, int dim) {
        int[] picked = new int[ENTRIES_PER_TENSOR];
        int largest = 0;
        for (int i = 1; i < length; i++) if (Math.abs(g[i]) > Math.abs(g[largest])) largest = i;
        picked[0] = largest;
        for (int i = 1; i < picked.length; i++) {
            if (embeddingOf != null) {
                DistillationSample s = embeddingOf.get(r.nextInt(embeddingOf.size()));
                int token = s.tokens()[r.nextInt(s.contextLength())];
                picked[i] = token * dim + r.nextInt(dim);
            } else {
                picked[i] = r.nextInt(length);
            }
        }
        assertTrue(g[largest] != 0f, "a tensor without any gradient");
        return picked;
    }
}
