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

    @Test
    void aTaskThatNeedNotWaitStepsWhileServingIsBusyOnlyInTheIdleCpuClass() throws Exception {
        IdleGovernor busy = new IdleGovernor(new IdleGovernor.Settings(0, 0, 2, 0), () -> new ServingSignals(1, 4, 0, 0));
        AtomicInteger policy = new AtomicInteger(-1);
        TrainingTask warmUp = new TrainingTask() {
            @Override
            public boolean step() {
                policy.set(dev.tandem.engine.parallel.BackgroundScheduling.currentPolicy());
                TrainingCheckpoint.check(); // would stall here if it waited for the governor
                return true;
            }

            @Override
            public boolean waitsForIdle() { return false; }
        };
        try (TrainingWorker w = new TrainingWorker(busy, warmUp, MS, 1, true).start()) {
            sleep(200);
            if (w.steps() == 0) {
                // This host refused the idle class (not Linux, or not allowed): then nothing may run while busy.
                assertTrue(policy.get() == -1, "a step ran outside the idle class");
            } else {
                assertEquals(dev.tandem.engine.parallel.BackgroundScheduling.SCHED_IDLE, policy.get());
            }
        }
        AtomicInteger steps = new AtomicInteger();
        TrainingTask outsideIdleClass = new TrainingTask() {
            @Override
            public boolean step() { return steps.incrementAndGet() > 0; }

            @Override
            public boolean waitsForIdle() { return false; }
        };
        try (TrainingWorker w = new TrainingWorker(busy, outsideIdleClass, MS, 1, false).start()) {
            sleep(100);
            assertEquals(0, steps.get(), "outside the idle class every step waits for idle serving");
        }
        try (TrainingWorker w = new TrainingWorker(busy, () -> steps.incrementAndGet() > 0, MS, 1, true).start()) {
            sleep(100);
            assertEquals(0, steps.get(), "training waits for idle serving in the idle class too");
        }
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
