package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A float32 matrix read straight from a (memory-mapped) little-endian segment.
 *
 * <p>The product walks the rows in tiles that stay in cache while every batch row passes over them, and
 * computes blocks of weight rows times {@link #BATCH_BLOCK} batch rows at once, so each weight vector loaded
 * feeds several independent accumulators. Small batches read one weight row after another (interleaving
 * several rows streamed from memory measured slower: one sequential stream prefetches best). Every
 * (weight row, batch row) dot product adds in the same order whatever the kernel, so a row's result does
 * not depend on the batch around it.
 */
public final class F32Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Batch rows per block of the batched kernels: each weight vector loaded feeds this many accumulators. */
    private static final int BATCH_BLOCK = 4;
    /** Weight rows per block of the compute-bound kernel. */
    private static final int ROW_BLOCK = 4;
    /**
     * From this batch size on, the weights are re-read from cache often enough that arithmetic bounds the
     * product and the 4x4 kernel pays; below it, memory bounds it and one weight row streamed at a time
     * (which the hardware prefetches best) wins.
     */
    private static final int COMPUTE_BOUND_BATCH = 8;
    /** Bytes of weights per tile, sized to stay in L2 while all batch rows pass over it. */
    private static final long TILE_BYTES = 128 * 1024;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    private final int tileRows;
    /** Columns covered by whole vectors; the rest are added one by one. */
    private final int vectorCols;

    public F32Matrix(MemorySegment data, int rows, int cols) {
        if (data.byteSize() != (long) rows * cols * Float.BYTES) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes does not hold a "
                    + rows + "x" + cols + " float32 matrix");
        }
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = (long) cols * Float.BYTES;
        this.tileRows = (int) Math.max(ROW_BLOCK, TILE_BYTES / rowBytes / ROW_BLOCK * ROW_BLOCK);
        this.vectorCols = SPECIES.loopBound(cols);
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override public TensorType type() { return TensorType.F32; }

    public MemorySegment segment() { return data; }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        Objects.checkFromToIndex(rowStart, rowEnd, rows);
        if (batch <= 0 || rowStart == rowEnd) return;
        Objects.checkFromIndexSize(xOff, (batch - 1) * xStride + cols, x.length);
        Objects.checkFromIndexSize(outOff + rowStart, (batch - 1) * outStride + (rowEnd - rowStart), out.length);
        boolean computeBound = batch >= COMPUTE_BOUND_BATCH;
        for (int tile = rowStart; tile < rowEnd; tile += tileRows) {
            int tileEnd = Math.min(rowEnd, tile + tileRows);
            int b = 0;
            for (; b + BATCH_BLOCK <= batch; b += BATCH_BLOCK) {
                int xb = xOff + b * xStride;
                int ob = outOff + b * outStride;
                int r = tile;
                if (computeBound) {
                    for (; r + ROW_BLOCK <= tileEnd; r += ROW_BLOCK) block4x4(r, x, xb, xStride, out, ob, outStride);
                }
                for (; r < tileEnd; r++) block1x4(r, x, xb, xStride, out, ob, outStride);
            }
            for (; b < batch; b++) {
                int xb = xOff + b * xStride;
                int ob = outOff + b * outStride;
                for (int r = tile; r < tileEnd; r++) out[ob + r] = dot(r, x, xb);
            }
        }
    }

    /** Rows r..r+3 times batch rows at x[xb], x[xb + xStride], ... (4 each): 8 loads feed 16 FMAs. */
    private void block4x4(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w0 = r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        int x0 = xb, x1 = xb + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector a00 = FloatVector.zero(SPECIES), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int i = 0; i < vectorCols; i += LANES) {
            long byteOff = (long) i * Float.BYTES;
            FloatVector v0 = FloatVector.fromArray(SPECIES, x, x0 + i);
            FloatVector v1 = FloatVector.fromArray(SPECIES, x, x1 + i);
            FloatVector v2 = FloatVector.fromArray(SPECIES, x, x2 + i);
            FloatVector v3 = FloatVector.fromArray(SPECIES, x, x3 + i);
            FloatVector w = FloatVector.fromMemorySegment(SPECIES, data, w0 + byteOff, LE);
            a00 = w.fma(v0, a00); a01 = w.fma(v1, a01); a02 = w.fma(v2, a02); a03 = w.fma(v3, a03);
            w = FloatVector.fromMemorySegment(SPECIES, data, w1 + byteOff, LE);
            a10 = w.fma(v0, a10); a11 = w.fma(v1, a11); a12 = w.fma(v2, a12); a13 = w.fma(v3, a13);
            w = FloatVector.fromMemorySegment(SPECIES, data, w2 + byteOff, LE);
            a20 = w.fma(v0, a20); a21 = w.fma(v1, a21); a22 = w.fma(v2, a22); a23 = w.fma(v3, a23);
            w = FloatVector.fromMemorySegment(SPECIES, data, w3 + byteOff, LE);
            a30 = w.fma(v0, a30); a31 = w.fma(v1, a31); a32 = w.fma(v2, a32); a33 = w.fma(v3, a33);
        }
        int o1 = ob + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        out[ob + r] = finish(a00, w0, x, x0); out[o1 + r] = finish(a01, w0, x, x1);
        out[o2 + r] = finish(a02, w0, x, x2); out[o3 + r] = finish(a03, w0, x, x3);
        out[ob + r + 1] = finish(a10, w1, x, x0); out[o1 + r + 1] = finish(a11, w1, x, x1);
        out[o2 + r + 1] = finish(a12, w1, x, x2); out[o3 + r + 1] = finish(a13, w1, x, x3);
        out[ob + r + 2] = finish(a20, w2, x, x0); out[o1 + r + 2] = finish(a21, w2, x, x1);
        out[o2 + r + 2] = finish(a22, w2, x, x2); out[o3 + r + 2] = finish(a23, w2, x, x3);
        out[ob + r + 3] = finish(a30, w3, x, x0); out[o1 + r + 3] = finish(a31, w3, x, x1);
        out[o2 + r + 3] = finish(a32, w3, x, x2); out[o3 + r + 3] = finish(a33, w3, x, x3);
    }

    /** Row r times batch rows at x[xb], x[xb + xStride], ... (4 of them): one weight load feeds 4 FMAs. */
    private void block1x4(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb, x1 = xb + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
        }
        out[ob + r] = finish(a0, w, x, x0);
        out[ob + outStride + r] = finish(a1, w, x, x1);
        out[ob + 2 * outStride + r] = finish(a2, w, x, x2);
        out[ob + 3 * outStride + r] = finish(a3, w, x, x3);
    }

    private float dot(int r, float[] x, int xb) {
        long w = r * rowBytes;
        FloatVector acc = FloatVector.zero(SPECIES);
        for (int i = 0; i < vectorCols; i += LANES) {
            acc = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE)
                    .fma(FloatVector.fromArray(SPECIES, x, xb + i), acc);
        }
        return finish(acc, w, x, xb);
    }

    /** Lane sum of a row's accumulator plus the columns past the last whole vector, in one fixed order. */
    private float finish(FloatVector acc, long rowBase, float[] x, int xb) {
        float sum = LaneSums.sum(acc);
        for (int i = vectorCols; i < cols; i++) {
            sum += data.get(LE_FLOAT, rowBase + (long) i * Float.BYTES) * x[xb + i];
        }
        return sum;
    }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        MemorySegment.copy(data, LE_FLOAT, (long) r * cols * Float.BYTES, dst, dstOff, cols);
    }
}
