package dev.tandem.trainer.sample;

import dev.tandem.engine.draft.DraftModel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplayBufferTest {

    static DistillationSample sample(String cls, long time, int length) {
        int[] tokens = new int[length];
        int n = length - 1;
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) positions[i] = i + 1;
        return new DistillationSample(cls, time, tokens, positions, 2, new int[2 * n], new float[2 * n], new float[n], new boolean[n]);
    }

    @Test
    void evictsTheOldestWithinItsByteBoundAndHoldsOutRecentSamples() {
        long one = sample("a", 0, 10).bytes();
        ReplayBuffer b = new ReplayBuffer("a", 5 * one, 2 * one, 4, 24);
        for (int i = 0; i < 20; i++) b.add(sample("a", i, 10));
        assertTrue(b.bytes() <= 7 * one);
        assertEquals(5, b.trainingCount());
        assertEquals(2, b.heldOutCount());
        // 20 added, every 4th held out (3, 7, 11, 15, 19); the held-out bound of two moved 3, 7 and 11 to training
        // as 11, 15 and 19 arrived, so 18 were trained, of which the oldest 13 were evicted.
        assertEquals(3, b.graduated());
        assertEquals(13, b.evicted());
        List<DistillationSample> training = b.trainingSamples();
        assertEquals(List.of(7L, 16L, 17L, 18L, 11L), training.stream().map(DistillationSample::createdMillis).toList());
        assertEquals(List.of(15L, 19L), b.recentHeldOut(10).stream().map(DistillationSample::createdMillis).toList());
        assertEquals(19, b.recentHeldOut(1).getFirst().createdMillis());
        for (DistillationSample s : b.sample(50, new SplittableRandom(1))) assertTrue(training.contains(s));
    }

    @Test
    void heldOutSamplesPastTheEvaluationWindowJoinTraining() {
        long one = sample("a", 0, 10).bytes();
        ReplayBuffer b = new ReplayBuffer("a", 100 * one, 100 * one, 4, 2);
        for (int i = 0; i < 20; i++) b.add(sample("a", i, 10));
        // Only the two most recent held-out samples stay out of training; nothing is evicted or lost.
        assertEquals(List.of(15L, 19L), b.recentHeldOut(10).stream().map(DistillationSample::createdMillis).toList());
        assertEquals(3, b.graduated());
        assertEquals(0, b.evicted());
        assertEquals(18, b.trainingCount());
        List<Long> trained = b.trainingSamples().stream().map(DistillationSample::createdMillis).toList();
        for (long held : List.of(3L, 7L, 11L)) assertTrue(trained.contains(held), trained.toString());
        assertTrue(!trained.contains(15L) && !trained.contains(19L), trained.toString());
    }

    @Test
    void everySampleAlsoFeedsTheGeneralClass() {
        ReplayBuffers buffers = new ReplayBuffers(1 << 20, 1 << 18, 0, 24);
        buffers.accept(sample("animals", 0, 5));
        buffers.accept(sample("space", 0, 5));
        assertEquals(1, buffers.buffer("animals").trainingCount());
        assertEquals(2, buffers.buffer(DraftModel.GENERAL_CLASS).trainingCount());
        assertEquals(List.of("animals", "general", "space"), buffers.classes());
    }
}
