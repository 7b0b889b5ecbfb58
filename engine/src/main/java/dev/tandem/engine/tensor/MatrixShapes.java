package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/** Shape checks shared by the matrix constructors. */
final class MatrixShapes {

    private MatrixShapes() {}

    /** Bytes per row of a {@code rows x cols} matrix of {@code type}; throws if the segment does not hold exactly that. */
    static long rowBytes(TensorType type, MemorySegment data, int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("matrix dimensions must be positive: " + rows + "x" + cols);
        }
        if (cols % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " rows hold blocks of " + type.blockSize()
                    + " values, but the matrix has " + cols + " columns");
        }
        long rowBytes = type.bytesFor(cols);
        if (data.byteSize() != rowBytes * rows) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes does not hold a "
                    + rows + "x" + cols + " " + type + " matrix (" + rowBytes * rows + " bytes)");
        }
        return rowBytes;
    }
}
