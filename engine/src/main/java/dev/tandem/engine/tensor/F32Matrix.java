package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** A float32 matrix read straight from a (memory-mapped) little-endian segment. */
public final class F32Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment data;
    private final int rows;
    private final int cols;

    public F32Matrix(MemorySegment data, int rows, int cols) {
        if (data.byteSize() != (long) rows * cols * Float.BYTES) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes does not hold a "
                    + rows + "x" + cols + " float32 matrix");
        }
        this.data = data;
        this.rows = rows;
        this.cols = cols;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override public TensorType type() { return TensorType.F32; }

    public MemorySegment segment() { return data; }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            long rowBase = (long) r * cols * Float.BYTES;
            for (int b = 0; b < batch; b++) {
                out[outOff + b * outStride + r] = dot(rowBase, x, xOff + b * xStride);
            }
        }
    }

    private float dot(long rowBase, float[] x, int xOff) {
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = 0;
        int upper = SPECIES.loopBound(cols);
        for (; i < upper; i += SPECIES.length()) {
            FloatVector w = FloatVector.fromMemorySegment(SPECIES, data, rowBase + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
            FloatVector v = FloatVector.fromArray(SPECIES, x, xOff + i);
            acc = w.fma(v, acc);
        }
        float sum = LaneSums.sum(acc);
        for (; i < cols; i++) {
            sum += data.get(LE_FLOAT, rowBase + (long) i * Float.BYTES) * x[xOff + i];
        }
        return sum;
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        MemorySegment.copy(data, LE_FLOAT, (long) r * cols * Float.BYTES, dst, dstOff, cols);
    }
}
