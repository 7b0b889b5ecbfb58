package dev.tandem.engine.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Off-heap memory meant to be backed by 2 MB transparent huge pages: an anonymous mapping aligned to 2 MB and
 * advised {@code MADV_HUGEPAGE} before any page of it is touched (Linux decides on the first touch; a zero-filling
 * allocator such as {@code Arena.allocate} would already have faulted in 4 KB pages). With the host's THP mode at
 * {@code madvise} or {@code always}, the first write to each 2 MB then gets a huge page, so a large read-mostly
 * working set (weights streamed every step) costs a TLB entry per 2 MB instead of per 4 KB.
 */
public final class HugePageMemory {

    /** Size of a transparent huge page on x86-64 and on arm64 with 4 KB base pages. */
    public static final long HUGE_PAGE_BYTES = 2L << 20;

    private HugePageMemory() {}

    /**
     * A zero-filled segment of at least {@code bytes} (rounded up to whole huge pages), 2 MB-aligned and advised
     * for huge pages, unmapped when {@code arena} closes. Throws {@link HugePagesUnavailableException} when the
     * platform or the kernel says no; nothing stays mapped then.
     */
    public static MemorySegment allocate(long bytes, Arena arena) {
        if (bytes <= 0) throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        LinuxMemoryCalls calls = Holder.calls();
        long size = roundUp(bytes, HUGE_PAGE_BYTES);
        // Map one huge page more than needed, then give back the unaligned head and the tail around the aligned run.
        long raw = calls.mapAnonymous(size + HUGE_PAGE_BYTES);
        long aligned = roundUp(raw, HUGE_PAGE_BYTES);
        long rawEnd = raw + size + HUGE_PAGE_BYTES;
        if (aligned > raw) calls.unmap(raw, aligned - raw);
        if (rawEnd > aligned + size) calls.unmap(aligned + size, rawEnd - (aligned + size));
        try {
            calls.adviseHugePages(aligned, size);
        } catch (HugePagesUnavailableException e) {
            calls.unmap(aligned, size);
            throw e;
        }
        return MemorySegment.ofAddress(aligned).reinterpret(size, arena, ignored -> calls.unmap(aligned, size));
    }

    static long roundUp(long value, long multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }

    /** Binds libc once, on first use; remembers a failure so that every later call fails the same cheap way. */
    private static final class Holder {
        private static final LinuxMemoryCalls CALLS;
        private static final HugePagesUnavailableException FAILURE;

        static {
            LinuxMemoryCalls calls = null;
            HugePagesUnavailableException failure = null;
            try {
                calls = LinuxMemoryCalls.bind();
            } catch (HugePagesUnavailableException e) {
                failure = e;
            } catch (RuntimeException e) { // IllegalCallerException without native access, linker errors
                failure = new HugePagesUnavailableException("libc cannot be called: " + e, e);
            }
            CALLS = calls;
            FAILURE = failure;
        }

        static LinuxMemoryCalls calls() {
            if (CALLS == null) throw new HugePagesUnavailableException(FAILURE.getMessage(), FAILURE);
            return CALLS;
        }
    }
}
