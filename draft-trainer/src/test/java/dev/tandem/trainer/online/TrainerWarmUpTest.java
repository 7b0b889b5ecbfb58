package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.trainer.TrainerSettings;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The trainer's warm-up runs the online trainer's steps on synthetic samples, then hands every step to the real task. */
class TrainerWarmUpTest {

    private static final DraftConfig SHAPE = new DraftConfig(32, 64, 1, 4, 2, 2000, 600, 128, 1e-5f, 10000f);

    @Test
    void warmsUpThroughAnEvaluationThenRunsTheRealTask() throws Exception {
        AtomicInteger real = new AtomicInteger();
        TrainerSettings settings = TrainerSettings.defaults();
        int max = 4 * settings.evaluateEverySteps();
        String tmp = System.getProperty("java.io.tmpdir");
        long before = countWarmUpDirs(tmp);
        TrainerWarmUp warmUp = new TrainerWarmUp(settings, () -> Optional.of(SHAPE), max, () -> real.incrementAndGet() > 0);
        int calls = 0;
        while (!warmUp.done() && calls < 10 * max) {
            assertFalse(warmUp.waitsForIdle(), "warm-up steps are not training: they need not wait for idle serving");
            assertTrue(warmUp.step(), "a warm-up step does work");
            calls++;
        }
        assertTrue(warmUp.done(), "the warm-up ends");
        assertTrue(warmUp.waitsForIdle(), "the real task's steps wait for idle serving");
        assertEquals(0, real.get(), "the real task waits for the warm-up");
        // It ends at its first evaluation (every-steps optimizer steps, then the evaluation's own steps), before max.
        assertTrue(warmUp.steps() > settings.evaluateEverySteps() && warmUp.steps() < max, "steps " + warmUp.steps());
        assertEquals(before, countWarmUpDirs(tmp), "its registry is deleted");
        warmUp.step();
        warmUp.step();
        assertEquals(2, real.get());
    }

    @Test
    void waitsForADraftToTakeTheShapeOfAndCanBeOff() {
        AtomicInteger real = new AtomicInteger();
        TrainerSettings settings = TrainerSettings.defaults();
        TrainerWarmUp noDraft = new TrainerWarmUp(settings, Optional::empty, 10, () -> real.incrementAndGet() < 0);
        assertTrue(noDraft.waitsForIdle(), "with no draft the real task answers, so the step waits for idle serving");
        assertFalse(noDraft.step(), "with no draft the real task answers");
        assertFalse(noDraft.done());
        assertEquals(1, real.get());
        IllegalStateException trainerFailure = new IllegalStateException("the trainer's own");
        TrainerWarmUp failingNext = new TrainerWarmUp(settings, Optional::empty, 10, () -> { throw trainerFailure; });
        assertEquals(trainerFailure, assertThrows(IllegalStateException.class, failingNext::step), "the real task's failure passes through");
        assertEquals(null, failingNext.failure());
        TrainerWarmUp off = new TrainerWarmUp(settings, () -> Optional.of(SHAPE), 0, () -> real.incrementAndGet() > 0);
        assertTrue(off.done());
        assertTrue(off.step());
        assertEquals(0, off.steps());
        assertThrows(IllegalArgumentException.class, () -> new TrainerWarmUp(settings, Optional::empty, -1, () -> false));
    }

    @Test
    void aFailedWarmUpEndsAndTheRealTaskGoesOn() {
        AtomicInteger real = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("boom");
        TrainerWarmUp warmUp = new TrainerWarmUp(TrainerSettings.defaults(), () -> { throw boom; }, 10, () -> real.incrementAndGet() > 0);
        assertTrue(warmUp.step());
        assertTrue(warmUp.done());
        assertEquals(boom, warmUp.failure());
        assertTrue(warmUp.step());
        assertEquals(1, real.get());
    }

    private static long countWarmUpDirs(String tmp) throws Exception {
        try (var s = Files.list(Path.of(tmp))) {
            return s.filter(p -> p.getFileName().toString().startsWith("tandem-trainer-warm-up")).count();
        }
    }
}
