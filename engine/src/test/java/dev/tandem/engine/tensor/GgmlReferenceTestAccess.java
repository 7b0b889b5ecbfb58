package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/** Test helpers of this package that other test packages use. */
public final class GgmlReferenceTestAccess {

    private GgmlReferenceTestAccess() {}

    /** A heap-independent segment holding a copy of the bytes. */
    public static MemorySegment segment(byte[] bytes) {
        return GgmlReferenceTest.segment(bytes);
    }
}
