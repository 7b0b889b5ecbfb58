package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.version.DraftCopies;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A candidate's head moving to another vocabulary while it trains: weights and optimizer moments follow the rows. */
class HeadMoveTest {

    private static final DraftConfig CONFIG = TinyDrafts.gqaConfig();
    private static final AdamW.Settings ADAM = new AdamW.Settings(1e-2, 0.9, 0.999, 1e-8, 0.0, 0.0);

    @Test
    void movedMomentsContinueAsIfTheRowsHadAlwaysBeenThere() {
        DraftModel start = DraftModel.random(CONFIG, TinyDrafts.reducedVocabulary(CONFIG.headSize(), CONFIG.vocabSize()), 3);
        int rows = CONFIG.headSize();
        int dim = CONFIG.dim();
        int[] reversed = new int[rows];
        for (int r = 0; r < rows; r++) reversed[r] = rows - 1 - r;
        DraftParameters p = DraftCopies.copy(start, 1, "c").parameters();
        DraftParameters q = DraftCopies.copy(start, 1, "c").parameters();
        permuteRows(q.output(), reversed, dim); // q holds p's head rows in reverse order from the start
        AdamW a = new AdamW(CONFIG, ADAM, false);
        AdamW b = new AdamW(CONFIG, ADAM, false);
        SplittableRandom random = new SplittableRandom(5);
        for (int step = 0; step < 3; step++) {
            DraftGradients g = randomGradients(random);
            DraftGradients h = copyOf(g);
            permuteRows(h.values().output(), reversed, dim);
            a.step(p, g);
            b.step(q, h);
        }
        // p's rows move to q's order, and its optimizer's moments with them; three moves (there, back, there again)
        // so that moves reusing the moments' arrays of earlier ones are checked too
        for (int move = 0; move < 3; move++) {
            permuteRows(p.output(), reversed, dim);
            a.moveRows(p.output(), reversed, dim);
        }
        for (int step = 0; step < 3; step++) {
            DraftGradients g = randomGradients(random);
            a.step(p, g);
            b.step(q, copyOf(g));
        }
        List<float[]> pa = p.arrays();
        List<float[]> qa = q.arrays();
        for (int i = 0; i < pa.size(); i++) assertArrayEquals(qa.get(i), pa.get(i), "array " + i);
    }

    @Test
    void aCandidateMovesItsHeadInPlaceAndKeepsTraining() {
        DraftModel start = DraftModel.random(CONFIG, TinyDrafts.reducedVocabulary(CONFIG.headSize(), CONFIG.vocabSize()), 4);
        CandidateTrainer trainer = new CandidateTrainer("c", start, DistillerSettings.defaults());
        SplittableRandom random = new SplittableRandom(9);
        List<DistillationSample> batch = List.of(TinyDrafts.randomSample(random, CONFIG.vocabSize(), 10, 4),
                TinyDrafts.randomSample(random, CONFIG.vocabSize(), 10, 4));
        for (int i = 0; i < 3; i++) trainer.step(batch);
        DraftModel before = trainer.candidate();
        ReducedVocabulary old = before.vocabulary();
        int gone = old.tokenAt(old.size() - 1);
        int added = -1;
        for (int t = 0; t < CONFIG.vocabSize() && added < 0; t++) if (old.indexOf(t) < 0) added = t;
        int[] ids = new int[old.size()];
        for (int r = 0, n = 0; r < old.size() - 1; r++) ids[n++] = old.tokenAt(r);
        ids[old.size() - 1] = added;
        java.util.Arrays.sort(ids);
        ReducedVocabulary next = new ReducedVocabulary(ids, CONFIG.vocabSize());
        DraftModel copied = DraftCopies.withVocabulary(before, next, false);

        trainer.moveHead(next);
        DraftModel moved = trainer.candidate();
        assertSame(next, moved.vocabulary());
        assertSame(before.parameters().output(), moved.parameters().output(), "moved in place");
        assertArrayEquals(copied.parameters().output(), moved.parameters().output(), "the same rows as a moved copy");
        int dim = CONFIG.dim();
        int row = next.indexOf(added);
        assertArrayEquals(java.util.Arrays.copyOfRange(moved.parameters().embedding(), added * dim, (added + 1) * dim),
                java.util.Arrays.copyOfRange(moved.parameters().output(), row * dim, (row + 1) * dim), "a new token starts from its embedding");
        assertEquals(-1, next.indexOf(gone));
        assertEquals(3, trainer.steps());

        float[] headBefore = moved.parameters().output().clone();
        double loss = trainer.step(batch).loss();
        assertTrue(Double.isFinite(loss));
        assertNotEquals(0, java.util.Arrays.compare(headBefore, moved.parameters().output()), "the moved head trains");
    }

    private static DraftGradients randomGradients(SplittableRandom random) {
        DraftGradients g = new DraftGradients(CONFIG, false);
        for (float[] a : g.values().arrays()) for (int i = 0; i < a.length; i++) a[i] = (float) random.nextGaussian();
        return g;
    }

    private static DraftGradients copyOf(DraftGradients g) {
        DraftGradients c = new DraftGradients(CONFIG, false);
        List<float[]> from = g.values().arrays();
        List<float[]> to = c.values().arrays();
        for (int i = 0; i < from.size(); i++) System.arraycopy(from.get(i), 0, to.get(i), 0, from.get(i).length);
        return c;
    }

    /** Row r of {@code a} becomes what row {@code sources[r]} was. */
    private static void permuteRows(float[] a, int[] sources, int width) {
        float[] before = a.clone();
        for (int r = 0; r < sources.length; r++) System.arraycopy(before, sources[r] * width, a, r * width, width);
    }
}
