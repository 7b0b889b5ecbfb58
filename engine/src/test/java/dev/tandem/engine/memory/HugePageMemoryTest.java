package dev.tandem.engine.memory;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class HugePageMemoryTest {

    @Test
    void regionIsAlignedZeroedAndBackedByHugePagesOnceTouched() {
        assumeTrue(TransparentHugePages.availableForMadvise(), "no transparent huge pages for madvise on this host");
        long bytes = 3 * HugePageMemory.HUGE_PAGE_BYTES + 12345;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment region = HugePageMemory.allocate(bytes, arena);
            assertEquals(0, region.address() % HugePageMemory.HUGE_PAGE_BYTES, "2 MB-aligned");
            assertEquals(4 * HugePageMemory.HUGE_PAGE_BYTES, region.byteSize(), "rounded up to whole huge pages");
            assertEquals(0, region.get(ValueLayout.JAVA_BYTE, bytes - 1), "zero-filled");
            region.fill((byte) 7);
            OptionalLong huge = HugePageUsage.anonHugeBytes(region);
            assertTrue(huge.isPresent(), "smaps lists the region");
            assertTrue(huge.getAsLong() > 0, "some of the region is on huge pages, smaps says " + huge.getAsLong());
        }
    }

    @Test
    void unmappedWhenTheArenaCloses() {
        assumeTrue(TransparentHugePages.availableForMadvise(), "no transparent huge pages for madvise on this host");
        MemorySegment region;
        try (Arena arena = Arena.ofConfined()) {
            region = HugePageMemory.allocate(HugePageMemory.HUGE_PAGE_BYTES, arena);
            region.fill((byte) 1);
        }
        assertTrue(HugePageUsage.anonHugeBytes(MemorySegment.ofAddress(region.address())
                .reinterpret(HugePageMemory.HUGE_PAGE_BYTES)).isEmpty(), "no mapping left at the region's address");
    }
}
