package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Distilling a small random draft on a fixed buffer of a teacher's greedy continuations lowers the loss on
 * the buffer and raises greedy acceptance (draft argmax == teacher argmax) on held-out continuations.
 */
class DistillationImprovesAcceptanceTest {

    @Test
    void lossFallsAndHeldOutAcceptanceRises() {
        int vocab = 48;
        DraftConfig teacherConfig = new DraftConfig(32, 64, 2, 4, 4, vocab, vocab, 32, 1e-5f, 10000f);
        DraftModel teacher = DraftModel.random(teacherConfig, ReducedVocabulary.full(vocab), 1);
        List<DistillationSample> train = TinyDrafts.teacherSamples(teacher, 120, 3, 20, 8, 2);
        List<DistillationSample> heldOut = TinyDrafts.teacherSamples(teacher, 40, 3, 20, 8, 3);

        DraftConfig studentConfig = new DraftConfig(24, 48, 1, 4, 2, vocab, 34, 32, 1e-5f, 10000f);
        DraftModel student = DraftModel.random(studentConfig, TinyDrafts.reducedVocabulary(34, vocab), 4);
        for (Divergence d : List.of(Divergence.FORWARD_KL, Divergence.JENSEN_SHANNON)) {
            DraftModel copy = copy(student);
            Distiller distiller = new Distiller(copy, DistillerSettings.defaults().withDivergence(d).withLearningRate(5e-3));
            DraftEvaluator evaluator = new DraftEvaluator(0);
            AcceptanceMetrics before = evaluator.evaluate(copy, heldOut);
            double lossBefore = distiller.loss(train);
            List<DistillationSample> shuffled = new ArrayList<>(train);
            Random random = new Random(5);
            for (int epoch = 0; epoch < 12; epoch++) {
                Collections.shuffle(shuffled, random);
                for (int b = 0; b < shuffled.size(); b += 8) distiller.step(shuffled.subList(b, Math.min(shuffled.size(), b + 8)));
            }
            double lossAfter = distiller.loss(train);
            AcceptanceMetrics after = evaluator.evaluate(copy, heldOut);
            System.out.printf("%s: loss %.4f -> %.4f, held-out greedy acceptance %.3f -> %.3f, accepted/step %.2f -> %.2f%n",
                    d, lossBefore, lossAfter, before.greedyAcceptance(), after.greedyAcceptance(), before.expectedAccepted(),
                    after.expectedAccepted());
            assertTrue(lossAfter < 0.7 * lossBefore, d + ": loss " + lossBefore + " -> " + lossAfter);
            assertTrue(after.greedyAcceptance() > before.greedyAcceptance() + 0.2, d + ": acceptance " + before + " -> " + after);
        }
    }

    static DraftModel copy(DraftModel m) {
        dev.tandem.engine.draft.DraftParameters p = dev.tandem.engine.draft.DraftParameters.zeros(m.config());
        for (int i = 0; i < p.arrays().size(); i++) System.arraycopy(m.parameters().arrays().get(i), 0, p.arrays().get(i), 0, p.arrays().get(i).length);
        return new DraftModel(m.version(), m.trafficClass(), m.config(), m.vocabulary(), p);
    }
}
