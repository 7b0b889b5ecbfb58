package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TeacherDistributionTest {

    @Test
    void sharpenedTeacherIsADistributionThatPutsMoreMassOnTheArgmax() {
        int vocab = 20;
        ReducedVocabulary v = TinyDrafts.reducedVocabulary(12, vocab);
        DistillationSample s = TinyDrafts.randomSample(new SplittableRandom(5), vocab, 10, 4);
        double[] p1 = new double[v.size()];
        double[] same = new double[v.size()];
        double[] sharp = new double[v.size()];
        for (int i = 0; i < s.positionCount(); i++) {
            double out1 = TeacherDistribution.project(s, i, v, p1);
            assertEquals(out1, TeacherDistribution.project(s, i, v, same, 1.0));
            assertArrayEquals(p1, same);
            double out = TeacherDistribution.project(s, i, v, sharp, 0.5);
            double sum = out;
            for (double x : sharp) sum += x;
            assertEquals(1.0, sum, 1e-9);
            int row = v.indexOf(s.teacherArgmax(i));
            if (row >= 0) assertTrue(sharp[row] > p1[row], "the argmax gains mass at T < 1");
        }
    }
}
