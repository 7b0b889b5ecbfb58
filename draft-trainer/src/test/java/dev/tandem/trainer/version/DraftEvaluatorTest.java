package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.distill.TinyDrafts;
import dev.tandem.trainer.sample.DistillationSample;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DraftEvaluatorTest {

    @Test
    void aDraftEvaluatedOnItsOwnGreedyOutputIsAlwaysAccepted() {
        int vocab = 24;
        DraftModel self = DraftModel.random(new DraftConfig(16, 32, 1, 2, 2, vocab, vocab, 24, 1e-5f, 10000f), ReducedVocabulary.full(vocab), 3);
        // 3 prompt tokens, 10 generated positions each: from start i, min(4, 10 - i) drafts are accepted.
        List<DistillationSample> samples = TinyDrafts.teacherSamples(self, 5, 3, 13, 4, 1);
        AcceptanceMetrics m = new DraftEvaluator(0).evaluate(self, samples);
        assertEquals(1.0, m.greedyAcceptance(), 1e-12);
        double expected = 0;
        for (int i = 0; i < 10; i++) expected += Math.min(DraftEvaluator.DRAFT_LENGTH, 10 - i);
        assertEquals(expected / 10, m.expectedAccepted(), 1e-12);
        assertEquals(50, m.positions());
        assertTrue(m.sampledAcceptance() > 0.8, "sum min(p, q) against its own top-4 teacher (the residual spread uniformly) " + m);

        DraftModel other = DraftModel.random(self.config(), self.vocabulary(), 4);
        DraftEvaluator.Comparison c = new DraftEvaluator(0).compare(other, self, samples);
        assertFalse(c.better());
        assertTrue(new DraftEvaluator(0).compare(self, other, samples).better());
        assertTrue(new DraftEvaluator(0).compare(other, null, samples).better(), "anything measured beats nothing live");
    }
}
