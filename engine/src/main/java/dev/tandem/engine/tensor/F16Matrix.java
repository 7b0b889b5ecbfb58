package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** An IEEE half-precision matrix (GGML type F16) over a little-endian segment. */
public final class F16Matrix extends DequantizingMatrix {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** As many half floats as F has floats, in a vector half as wide. */
    private static final VectorSpecies<Short> H = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int SIGN = 0x8000;
    private static final int MAGNITUDE = 0x7fff;
    private static final int EXPONENT = 0x7c00;
    /** float32 bits of a half shifted into place are the value times 2^-112 (for normals and subnormals alike). */
    private static final float EXPONENT_REBIAS = 0x1p112f;

    public F16Matrix(MemorySegment data, int rows, int cols) {
        super(TensorType.F16, data, rows, cols);
    }

    @Override
    protected void decodeRow(long rowOffset, float[] dst, int dstOff) {
        int i = 0;
        int upper = F.loopBound(cols);
        for (; i < upper; i += F.length()) {
            long at = rowOffset + (long) i * Short.BYTES;
            IntVector half = (IntVector) ShortVector.fromMemorySegment(H, data, at, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.S2I, I, 0);
            if (half.and(EXPONENT).eq(EXPONENT).anyTrue()) {
                // infinities and NaNs do not survive the rebias trick: take the exact scalar path
                for (int j = 0; j < F.length(); j++) dst[dstOff + i + j] = Float.float16ToFloat(data.get(LE_SHORT, at + 2L * j));
                continue;
            }
            IntVector bits = half.and(SIGN).lanewise(VectorOperators.LSHL, 16)
                    .or(half.and(MAGNITUDE).lanewise(VectorOperators.LSHL, 13));
            bits.reinterpretAsFloats().mul(EXPONENT_REBIAS).intoArray(dst, dstOff + i);
        }
        for (; i < cols; i++) {
            dst[dstOff + i] = Float.float16ToFloat(data.get(LE_SHORT, rowOffset + (long) i * Short.BYTES));
        }
    }
}
