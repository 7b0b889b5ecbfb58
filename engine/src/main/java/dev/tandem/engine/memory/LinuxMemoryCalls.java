package dev.tandem.engine.memory;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * libc's {@code mmap}, {@code madvise} and {@code munmap} through the FFM linker, with {@code errno} captured
 * so that a refusal can say why. The flag values are those of Linux on x86-64 and arm64 (the generic ones).
 */
final class LinuxMemoryCalls {

    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MADV_HUGEPAGE = 14;
    /** mmap's MAP_FAILED, (void *) -1. */
    static final long MAP_FAILED = -1L;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final long ERRNO_OFFSET = CALL_STATE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle mmap;
    private final MethodHandle madvise;
    private final MethodHandle munmap;

    private LinuxMemoryCalls(MethodHandle mmap, MethodHandle madvise, MethodHandle munmap) {
        this.mmap = mmap;
        this.madvise = madvise;
        this.munmap = munmap;
    }

    /** Binds the three calls; throws {@link HugePagesUnavailableException} off Linux or when libc lacks one. */
    static LinuxMemoryCalls bind() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) throw new HugePagesUnavailableException("the OS is " + os + ", not Linux");
        Linker linker = Linker.nativeLinker();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        MethodHandle mmap = linker.downcallHandle(find(linker, "mmap"), FunctionDescriptor.of(ValueLayout.ADDRESS,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG), errno);
        MethodHandle madvise = linker.downcallHandle(find(linker, "madvise"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT), errno);
        MethodHandle munmap = linker.downcallHandle(find(linker, "munmap"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), errno);
        return new LinuxMemoryCalls(mmap, madvise, munmap);
    }

    private static MemorySegment find(Linker linker, String name) {
        return linker.defaultLookup().find(name)
                .orElseThrow(() -> new HugePagesUnavailableException("libc has no " + name));
    }

    /** A private anonymous read-write mapping of {@code bytes}; returns its address. Pages are not touched. */
    long mapAnonymous(long bytes) {
        try (var state = CallState.open()) {
            MemorySegment address = (MemorySegment) mmap.invokeExact(state.segment, MemorySegment.NULL, bytes,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            if (address.address() == MAP_FAILED) {
                throw new HugePagesUnavailableException("mmap of " + bytes + " bytes failed: errno " + state.errno());
            }
            return address.address();
        } catch (HugePagesUnavailableException e) {
            throw e;
        } catch (Throwable t) {
            throw new HugePagesUnavailableException("mmap could not be called: " + t, t);
        }
    }

    /** madvise(MADV_HUGEPAGE) over [address, address + bytes). */
    void adviseHugePages(long address, long bytes) {
        try (var state = CallState.open()) {
            int rc = (int) madvise.invokeExact(state.segment, MemorySegment.ofAddress(address), bytes, MADV_HUGEPAGE);
            if (rc != 0) {
                throw new HugePagesUnavailableException("madvise(MADV_HUGEPAGE) failed: errno " + state.errno()
                        + " (a kernel without transparent huge pages answers EINVAL, 22)");
            }
        } catch (HugePagesUnavailableException e) {
            throw e;
        } catch (Throwable t) {
            throw new HugePagesUnavailableException("madvise could not be called: " + t, t);
        }
    }

    /** munmap of [address, address + bytes); returns false (nothing more can be done) if the kernel refuses. */
    boolean unmap(long address, long bytes) {
        try (var state = CallState.open()) {
            return (int) munmap.invokeExact(state.segment, MemorySegment.ofAddress(address), bytes) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The captured-state buffer of one call (a few bytes, confined to the calling thread). */
    private record CallState(java.lang.foreign.Arena arena, MemorySegment segment) implements AutoCloseable {
        static CallState open() {
            java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
            return new CallState(arena, arena.allocate(CALL_STATE));
        }

        int errno() { return segment.get(ValueLayout.JAVA_INT, ERRNO_OFFSET); }

        @Override public void close() { arena.close(); }
    }
}
