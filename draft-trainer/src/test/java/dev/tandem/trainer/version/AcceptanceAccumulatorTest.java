package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.distill.DraftForward;
import dev.tandem.trainer.distill.TinyDrafts;
import dev.tandem.trainer.sample.DistillationSample;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AcceptanceAccumulatorTest {

    private static final int VOCAB = 24;
    private static final DraftConfig CONFIG = new DraftConfig(16, 32, 1, 2, 2, VOCAB, VOCAB, 24, 1e-5f, 10000f);

    /** The online trainer reuses one forward per role across evaluations, and its candidate is trained in place. */
    @Test
    void aReusedForwardSeesWeightsChangedInPlace() {
        DraftModel teacher = DraftModel.random(CONFIG, ReducedVocabulary.full(VOCAB), 3);
        List<DistillationSample> samples = TinyDrafts.teacherSamples(teacher, 5, 3, 13, 4, 1);
        DraftModel candidate = DraftModel.random(CONFIG, ReducedVocabulary.full(VOCAB), 4);
        DraftForward reused = new DraftForward(CONFIG);
        AcceptanceMetrics before = metrics(new AcceptanceAccumulator(candidate, reused), samples);

        // Trained in place into the teacher: the same parameters object, other weights.
        List<float[]> to = candidate.parameters().arrays();
        List<float[]> from = teacher.parameters().arrays();
        for (int i = 0; i < to.size(); i++) System.arraycopy(from.get(i), 0, to.get(i), 0, to.get(i).length);

        AcceptanceMetrics fresh = metrics(new AcceptanceAccumulator(candidate), samples);
        AcceptanceMetrics again = metrics(new AcceptanceAccumulator(candidate, reused), samples);
        assertEquals(1.0, fresh.greedyAcceptance(), 1e-12);
        assertNotEquals(fresh.greedyAcceptance(), before.greedyAcceptance());
        assertEquals(fresh, again, "a reused forward packs the weights again");
    }

    @Test
    void aForwardOfAnotherConfigIsRefused() {
        DraftModel draft = DraftModel.random(CONFIG, ReducedVocabulary.full(VOCAB), 3);
        DraftConfig wider = new DraftConfig(32, 32, 1, 2, 2, VOCAB, VOCAB, 24, 1e-5f, 10000f);
        assertThrows(IllegalArgumentException.class, () -> new AcceptanceAccumulator(draft, new DraftForward(wider)));
    }

    private static AcceptanceMetrics metrics(AcceptanceAccumulator a, List<DistillationSample> samples) {
        for (DistillationSample s : samples) a.add(s);
        return a.metrics();
    }
}
