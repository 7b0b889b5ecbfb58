package dev.tandem.trainer.sample;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrafficRecorderTest {

    @Test
    void topKAndLogNormalizer() {
        float[] row = {0.5f, 3f, -1f, 3f, 2f, 0f};
        int[] ids = new int[3];
        float[] values = new float[3];
        float logZ = new TopKSelector(3).select(row, 0, row.length, ids, values, 0);
        assertArrayEquals(new int[]{1, 3, 4}, ids); // ties to the lower id
        assertArrayEquals(new float[]{3f, 3f, 2f}, values);
        double z = 0;
        for (float v : row) z += Math.exp(v);
        assertEquals(Math.log(z), logZ, 1e-5);
    }

    @Test
    void recordsVerifiedRowsWithRejectionsAndEmitsOneSamplePerSequence() {
        List<DistillationSample> out = new ArrayList<>();
        TrafficRecorder r = new TrafficRecorder(2, 1.0, 1 << 20, out::add, prompt -> "general", 1);
        int vocab = 4;
        r.begin(7, "animals");
        // Step 1: prompt of 3 tokens, 2 drafts, 1 accepted: rows 0 and 1 are committed, row 1 rejected.
        float[] logits = {0, 1, 2, 3, /* */ 5, 0, 0, 0, /* */ 9, 9, 9, 9};
        r.verified(7, 3, logits, 0, vocab, 2, 2, 1);
        // Step 2: no drafts, 1 row.
        r.verified(7, 5, new float[]{0, 0, 7, 0}, 0, vocab, 1, 0, 0);
        r.end(7, new int[]{1, 2, 3, 3, 0, 2});
        assertEquals(1, out.size());
        DistillationSample s = out.getFirst();
        assertEquals("animals", s.trafficClass());
        assertArrayEquals(new int[]{3, 4, 5}, s.positions());
        assertArrayEquals(new int[]{3, 2, 0, 1, 2, 0}, s.teacherIds());
        assertFalse(s.rejected()[0]);
        assertTrue(s.rejected()[1]);
        assertFalse(s.rejected()[2]);
        assertEquals(5, s.contextLength());
    }

    @Test
    void unrecordedTrafficIsNeitherRecordedNorLearnedFrom() {
        List<DistillationSample> out = new ArrayList<>();
        List<String> tagged = new ArrayList<>();
        TrafficRecorder r = new TrafficRecorder(2, 1.0, 1 << 20, out::add, p -> "general", 1);
        r.onTagged((prompt, cls) -> tagged.add(cls));
        r.onStart(1, new int[]{1, 5}, dev.tandem.engine.draft.DraftModel.UNRECORDED_CLASS);
        r.verified(1, 2, new float[]{1, 2}, 0, 2, 1, 0, 0);
        r.end(1, new int[]{1, 5, 1});
        assertTrue(out.isEmpty(), "nothing recorded");
        assertEquals(0, r.pendingSequences());
        r.onStart(2, new int[]{1, 5}, "animals");
        r.verified(2, 2, new float[]{1, 2}, 0, 2, 1, 0, 0);
        r.end(2, new int[]{1, 5, 1});
        assertEquals(1, out.size(), "a tagged sequence is");
        assertEquals(List.of("animals"), tagged, "the classifier learns from tagged prompts only");
    }

    @Test
    void samplingRateAndPendingBound() {
        List<DistillationSample> out = new ArrayList<>();
        TrafficRecorder none = new TrafficRecorder(2, 0.0, 1 << 20, out::add, p -> "general", 1);
        none.begin(1, "a");
        none.verified(1, 1, new float[]{1, 2}, 0, 2, 1, 0, 0);
        none.end(1, new int[]{0, 1});
        assertTrue(out.isEmpty());
        TrafficRecorder tight = new TrafficRecorder(2, 1.0, 30, out::add, p -> "general", 1);
        tight.begin(1, "a");
        tight.verified(1, 1, new float[]{1, 2}, 0, 2, 1, 0, 0);
        tight.verified(1, 2, new float[]{1, 2}, 0, 2, 1, 0, 0);
        tight.end(1, new int[]{0, 1, 1});
        assertEquals(1, out.getFirst().positionCount());
        assertEquals(1, tight.droppedPositions());
    }
}
