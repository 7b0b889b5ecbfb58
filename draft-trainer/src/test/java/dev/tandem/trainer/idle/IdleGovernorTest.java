package dev.tandem.trainer.idle;

import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdleGovernorTest {

    private static final long MS = 1_000_000L;

    @Test
    void idleOnlyAfterAQuietPeriodWithoutQueueLoadOrSlowSteps() {
        AtomicReference<ServingSignals> signals = new AtomicReference<>(ServingSignals.IDLE);
        AtomicLong now = new AtomicLong();
        IdleGovernor g = new IdleGovernor(new IdleGovernor.Settings(0, 0, 1.5, 100 * MS), signals::get, now::get);
        assertFalse(g.mayTrain()); // quiet period starts
        now.addAndGet(50 * MS);
        assertFalse(g.mayTrain());
        now.addAndGet(60 * MS);
        assertTrue(g.mayTrain());
        signals.set(new ServingSignals(1, 0, 0, 0)); // a queued request
        assertFalse(g.mayTrain());
        signals.set(ServingSignals.IDLE);
        now.addAndGet(10 * MS);
        assertFalse(g.mayTrain()); // the quiet period restarts
        now.addAndGet(100 * MS);
        assertTrue(g.mayTrain());
        signals.set(new ServingSignals(0, 3, 0, 0)); // decoding sequences
        assertFalse(g.mayTrain());
        signals.set(new ServingSignals(0, 0, 20 * MS, 10 * MS)); // steps twice as slow as the baseline
        assertFalse(g.servingIdle(signals.get()));
        signals.set(new ServingSignals(0, 0, 12 * MS, 10 * MS));
        assertTrue(g.servingIdle(signals.get()));
    }

    @Test
    void workerRunsStepsOnItsOwnThreadAndYieldsWithinOneStepWhenLoadArrives() throws Exception {
        AtomicReference<ServingSignals> signals = new AtomicReference<>(ServingSignals.IDLE);
        IdleGovernor g = new IdleGovernor(new IdleGovernor.Settings(0, 0, 2, 0), signals::get);
        Set<String> threads = ConcurrentHashMap.newKeySet();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger stepsWhileBusy = new AtomicInteger();
        AtomicReference<Boolean> busy = new AtomicReference<>(false);
        try (TrainingWorker w = new TrainingWorker(g, () -> {
            threads.add(Thread.currentThread().getName());
            running.incrementAndGet();
            if (busy.get()) stepsWhileBusy.incrementAndGet();
            sleep(20);
            running.decrementAndGet();
            return true;
        }, 2 * MS).start()) {
            waitFor(() -> w.steps() >= 3);
            signals.set(new ServingSignals(2, 4, 0, 0));
            // Load arrived: at most the step in progress finishes, then no new step starts.
            waitFor(() -> running.get() == 0);
            sleep(20);
            busy.set(true);
            long before = w.steps();
            sleep(150);
            assertEquals(before, w.steps());
            assertEquals(0, stepsWhileBusy.get());
            assertEquals(0, running.get());
            signals.set(ServingSignals.IDLE);
            waitFor(() -> w.steps() > before + 2);
        }
        assertEquals(Set.of(TrainingWorker.THREAD_NAME), threads);
    }

    @Test
    void aStepInProgressWaitsAtItsCheckpointsWhileServingIsBusy() throws Exception {
        AtomicReference<ServingSignals> signals = new AtomicReference<>(ServingSignals.IDLE);
        IdleGovernor g = new IdleGovernor(new IdleGovernor.Settings(0, 0, 2, 0), signals::get);
        AtomicInteger checks = new AtomicInteger();
        try (TrainingWorker w = new TrainingWorker(g, () -> {
            for (int i = 0; i < 1000; i++) {
                TrainingCheckpoint.check();
                checks.incrementAndGet();
                sleep(1);
            }
            return true;
        }, MS).start()) {
            waitFor(() -> checks.get() > 20);
            signals.set(new ServingSignals(1, 1, 0, 0));
            sleep(20);
            int stalled = checks.get();
            sleep(100);
            assertTrue(checks.get() <= stalled + 1, "the step kept going while serving was busy");
            assertTrue(w.pausedChecks() > 0);
            signals.set(ServingSignals.IDLE);
            waitFor(() -> checks.get() > stalled + 20);
        }
        TrainingCheckpoint.check(); // no hook on this thread: does nothing
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000 * MS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            Thread.sleep(5);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new RuntimeException(e);
        }
    }
}
