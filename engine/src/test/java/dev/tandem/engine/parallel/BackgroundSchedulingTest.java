package dev.tandem.engine.parallel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackgroundSchedulingTest {

    private static int currentPolicy() {
        return BackgroundScheduling.currentPolicy();
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void aThreadEntersTheIdleClassAndOthersKeepTheirs() throws Exception {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            int before = currentPolicy();
            boolean entered = BackgroundScheduling.enterIdleClass();
            result.set(new int[] {before, entered ? 1 : 0, currentPolicy()});
        });
        t.start();
        t.join();
        int[] r = (int[]) result.get();
        assertEquals(0, r[0], "a new thread starts in SCHED_OTHER");
        assertEquals(1, r[1], "sched_setscheduler(SCHED_IDLE) refused");
        assertEquals(BackgroundScheduling.SCHED_IDLE, r[2]);
        assertEquals(0, currentPolicy(), "only the calling thread changes class");
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void aThreadLeavesTheIdleClassAgain() throws Exception {
        AtomicReference<int[]> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            BackgroundScheduling.enterIdleClass();
            int idle = currentPolicy();
            boolean left = BackgroundScheduling.leaveIdleClass();
            result.set(new int[] {idle, left ? 1 : 0, currentPolicy()});
        });
        t.start();
        t.join();
        int[] r = result.get();
        assertEquals(BackgroundScheduling.SCHED_IDLE, r[0]);
        assertEquals(1, r[1], "sched_setscheduler(SCHED_OTHER) refused");
        assertEquals(BackgroundScheduling.SCHED_OTHER, r[2]);
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void aRunnersWorkersRunTheirSetUpFirst() throws InterruptedException {
        Set<Integer> policies = ConcurrentHashMap.newKeySet();
        CountDownLatch setUp = new CountDownLatch(2);
        try (ParallelRunner runner = new ParallelRunner(3, () -> {
            BackgroundScheduling.enterIdleClass();
            policies.add(currentPolicy());
            setUp.countDown();
        })) {
            // An idle-class thread still gets a sliver of CPU on a busy machine, so this finishes under load too.
            assertTrue(setUp.await(2, TimeUnit.MINUTES), "the workers did not run their set-up");
            int[] sum = new int[1];
            runner.forRange(64, 16, (from, to) -> { synchronized (sum) { sum[0] += to - from; } });
            assertEquals(64, sum[0]);
        }
        assertEquals(Set.of(BackgroundScheduling.SCHED_IDLE), policies);
        assertEquals(0, currentPolicy(), "the caller keeps its class");
    }
}
