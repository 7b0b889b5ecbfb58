package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** A bfloat16 matrix (GGML type BF16): each value is the upper half of a float32. */
public final class BF16Matrix extends DequantizingMatrix {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int HALF_SHIFT = 16;

    public BF16Matrix(MemorySegment data, int rows, int cols) {
        super(TensorType.BF16, data, rows, cols);
    }

    /** The float whose upper 16 bits are {@code bits}. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << HALF_SHIFT);
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        int i = 0;
        int upper = F.loopBound(cols);
        for (; i < upper; i += F.length()) {
            IntVector half = (IntVector) ShortVector.fromMemorySegment(H, data, rowOffset + (long) i * Short.BYTES, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.S2I, I, 0);
            half.lanewise(VectorOperators.LSHL, HALF_SHIFT).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < cols; i++) {
            dst[dstOff + i] = toFloat(data.get(F16Matrix.LE_SHORT, rowOffset + (long) i * Short.BYTES));
        }
    }
}
