package dev.tandem.engine.llama;

import dev.tandem.engine.model.ModelConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvCacheTest {

    private static final ModelConfig CONFIG = new ModelConfig(64, 128, 4, 4, 2, 100, 200, 1e-5f, 10000f, true);
    private static final int P = KvCache.PAGE_POSITIONS;

    @Test
    void pagesFollowWrittenPositions() {
        KvCache cache = new KvCache(CONFIG, 1, 3);
        long pageBytes = 2L /* layers */ * 2 /* k and v */ * P * CONFIG.kvDim() * Float.BYTES;
        assertEquals(pageBytes, cache.pageBytes());
        assertEquals(0, cache.bytesUsed());

        cache.reserve(10, 0, 1);
        assertEquals(1, cache.pagesInUse());
        cache.reserve(10, 1, P - 1);
        assertEquals(1, cache.pagesInUse());
        assertEquals(P, cache.length(10));
        cache.reserve(10, P, 1);
        assertEquals(2, cache.pagesInUse());
        assertEquals(2 * pageBytes, cache.bytesUsed());

        cache.reserve(20, 0, 3 * P);
        assertEquals(5, cache.pagesInUse());
        assertArrayEquals(new long[]{10, 20}, cache.sequences());
    }

    @Test
    void aLimitCountsWholePagesAndARefusedReserveChangesNothing() {
        KvCache cache = new KvCache(CONFIG, 1, 3, 2 * P + 1); // rounds up to 3 pages
        assertEquals(3, cache.maxPages());
        cache.reserve(10, 0, 2 * P);
        assertEquals(1, cache.pagesAvailable());
        assertThrows(IllegalStateException.class, () -> cache.reserve(20, 0, P + 1));
        assertEquals(0, cache.length(20));
        assertEquals(2, cache.pagesInUse());
        cache.reserve(10, P, 2 * P); // rewrites from position P: keeps one page, needs three
        assertEquals(3, cache.pagesInUse());
        assertEquals(KvCache.UNLIMITED, new KvCache(CONFIG, 1, 3).maxPages());
        assertEquals(4, KvCache.withByteLimit(CONFIG, 1, 3, 4 * cache.pageBytes() + 1).maxPages());
    }

    @Test
    void truncateAndReleaseReturnPagesForReuse() {
        KvCache cache = new KvCache(CONFIG, 0, 4);
        SequenceKv s = cache.reserve(1, 0, 2 * P + 3);
        float[] second = s.pages[1];
        assertEquals(3, cache.pagesInUse());

        cache.truncate(1, P + 1);
        assertEquals(P + 1, cache.length(1));
        assertEquals(2, cache.pagesInUse());
        assertEquals(1, cache.pagesFree());
        cache.truncate(1, P);
        assertEquals(1, cache.pagesInUse());
        assertEquals(2, cache.pagesFree());

        // Growing again takes pages from the free list instead of allocating.
        SequenceKv again = cache.reserve(1, P, P + 1);
        assertEquals(3, cache.pagesInUse());
        assertEquals(0, cache.pagesFree());
        assertTrue(again.pages[1] == second || again.pages[2] == second);

        cache.release(1);
        assertFalse(cache.contains(1));
        assertEquals(0, cache.length(1));
        assertEquals(0, cache.bytesUsed());
        assertEquals(3, cache.pagesFree());
        assertEquals(3 * cache.pageBytes(), cache.bytesFree());
        cache.trimFreePages();
        assertEquals(0, cache.bytesFree());
    }

    @Test
    void writingOverCachedPositionsTruncatesFirst() {
        KvCache cache = new KvCache(CONFIG, 0, 1);
        SequenceKv s = cache.reserve(5, 0, 3 * P);
        assertSame(s, cache.reserve(5, 4, 2));
        assertEquals(6, cache.length(5));
        assertEquals(1, cache.pagesInUse());
    }

    @Test
    void rejectsGapsAndPositionsBeyondTheContext() {
        KvCache cache = new KvCache(CONFIG, 0, 1);
        cache.reserve(5, 0, 4);
        assertThrows(IllegalArgumentException.class, () -> cache.reserve(5, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> cache.reserve(6, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> cache.reserve(7, 0, CONFIG.seqLen() + 1));
        assertThrows(IllegalArgumentException.class, () -> cache.truncate(5, -1));
    }

    @Test
    void manySequencesComeAndGo() {
        KvCache cache = new KvCache(CONFIG, 0, 1);
        for (long id = 0; id < 1000; id++) cache.reserve(id * 7919, 0, 1);
        assertEquals(1000, cache.sequences().length);
        for (long id = 0; id < 1000; id += 2) cache.release(id * 7919);
        assertEquals(500, cache.sequences().length);
        for (long id = 1; id < 1000; id += 2) assertEquals(1, cache.length(id * 7919));
        for (long id = 0; id < 1000; id += 2) assertFalse(cache.contains(id * 7919));
        assertEquals(500, cache.pagesInUse());
        assertEquals(500, cache.pagesFree());
    }
}
