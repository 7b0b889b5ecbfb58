package dev.tandem.engine.tensor;

import java.lang.foreign.MemorySegment;

/** Builds the {@link WeightMatrix} implementation for a storage type. */
public final class WeightMatrices {

    private WeightMatrices() {}

    /**
     * A {@code rows x cols} matrix of {@code type} over {@code data}, which must hold exactly
     * {@code rows * type.bytesFor(cols)} bytes.
     */
    public static WeightMatrix of(TensorType type, MemorySegment data, int rows, int cols) {
        return of(type, data, rows, cols, QuantKernel.DECODE_ROW);
    }

    /** As {@link #of(TensorType, MemorySegment, int, int)}, with the kernel Q8_0 and Q4_0 matrices use. */
    public static WeightMatrix of(TensorType type, MemorySegment data, int rows, int cols, QuantKernel kernel) {
        return switch (type) {
            case F32 -> new F32Matrix(data, rows, cols);
            case F16 -> new F16Matrix(data, rows, cols);
            case BF16 -> new BF16Matrix(data, rows, cols);
            case Q8_0 -> new Q8_0Matrix(data, rows, cols, kernel);
            case Q4_0 -> new Q4_0Matrix(data, rows, cols, kernel);
            case Q4_K -> new Q4_KMatrix(data, rows, cols);
            case Q6_K -> new Q6_KMatrix(data, rows, cols);
            // Its scales live beside the bytes, so bytes alone do not make one (PackedInt8Matrix.quantize does).
            case INT8_ROWS -> throw new IllegalArgumentException("an " + type + " matrix is made by quantizing a matrix, not over bytes");
        };
    }
}
