package dev.tandem.engine.parallel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelRunnerTest {

    @Test
    void coversTheRangeOnceWithAlignedChunks() {
        for (int threads = 1; threads <= 4; threads++) {
            try (ParallelRunner runner = new ParallelRunner(threads)) {
                for (int n : new int[]{1, 7, 16, 17, 288, 768, 32000}) {
                    int[] hits = new int[n];
                    runner.forRange(n, (s, e) -> {
                        assertTrue(s % ParallelRunner.DEFAULT_GRAIN == 0, "chunk start " + s);
                        for (int i = s; i < e; i++) hits[i]++;
                    });
                    for (int i = 0; i < n; i++) assertEquals(1, hits[i], "n=" + n + " i=" + i);
                }
            }
        }
    }

    @Test
    void threadIndicesAreBelowThreadsAndNeverShared() {
        try (ParallelRunner runner = new ParallelRunner(3)) {
            AtomicInteger[] busy = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
            AtomicInteger covered = new AtomicInteger();
            for (int call = 0; call < 1000; call++) {
                runner.forChunks(30, 1, (thread, s, e) -> {
                    assertEquals(1, busy[thread].incrementAndGet(), "thread index " + thread + " used twice at once");
                    covered.addAndGet(e - s);
                    busy[thread].decrementAndGet();
                });
            }
            assertEquals(30 * 1000, covered.get());
        }
    }

    @Test
    void manyBackToBackSectionsAndIdlePauses() throws InterruptedException {
        try (ParallelRunner runner = new ParallelRunner(2)) {
            AtomicInteger total = new AtomicInteger();
            RangeTask task = (s, e) -> total.addAndGet(e - s);
            for (int i = 0; i < 20_000; i++) runner.forRange(64, task);
            assertEquals(20_000 * 64, total.get());
            Thread.sleep(5); // workers park
            runner.forRange(64, task);
            assertEquals(20_001 * 64, total.get());
        }
    }

    /** Back-to-back sections of different sizes: a late worker must never run a piece of the wrong section. */
    @Test
    void sectionsOfChangingSizesEachRunExactlyOnce() {
        try (ParallelRunner runner = new ParallelRunner(2)) {
            int[] sizes = {32, 288, 17, 768, 1, 100};
            AtomicInteger total = new AtomicInteger();
            long expected = 0;
            for (int i = 0; i < 100_000; i++) {
                int n = sizes[i % sizes.length];
                total.set(0);
                runner.forRange(n, (s, e) -> total.addAndGet(e - s));
                assertEquals(n, total.get(), "section " + i);
                expected += n;
            }
            assertTrue(expected > 0);
        }
    }

    @Test
    void aFailingChunkFailsTheCall() {
        try (ParallelRunner runner = new ParallelRunner(2)) {
            assertThrows(IllegalStateException.class, () -> runner.forRange(64, 16, (s, e) -> {
                if (s > 0) throw new IllegalStateException("boom");
            }));
            AtomicInteger total = new AtomicInteger();
            runner.forRange(64, (s, e) -> total.addAndGet(e - s));
            assertEquals(64, total.get());
        }
    }
}
