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
 * computes one weight row times {@link #BATCH_BLOCK} batch rows at once, so each weight vector loaded feeds
 * several independent accumulators. Weight rows are read one after another: interleaving several rows
 * streamed from memory measured slower (one sequential stream prefetches best), and a 4x4 block of
 * accumulators grew too big for C2 to keep its vectors unboxed. Every (weight row, batch row) dot product
 * adds in the same order whatever the kernel, so a row's result does not depend on the batch around it.
 */
public final class F32Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Batch rows per block of the batched kernels: each weight vector loaded feeds this many accumulators. */
    private static final int BATCH_BLOCK = 4;
    /** From this batch size on, weights come from cache and arithmetic bounds the product: use the 2x4 kernel (fewer loads per FMA; streaming two rows from memory is slower, so not for small batches). */
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
        this.tileRows = (int) Math.max(1, TILE_BYTES / rowBytes);
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
        if (batch == 1) {
            for (int r = rowStart; r < rowEnd; r++) out[outOff + r] = dot(r, x, xOff);
            return;
        }
        for (int tile = rowStart; tile < rowEnd; tile += tileRows) {
            int tileEnd = Math.min(rowEnd, tile + tileRows);
            for (int b = 0; b < batch; b += BATCH_BLOCK) {
                int count = Math.min(BATCH_BLOCK, batch - b);
                int xb = xOff + b * xStride;
                int ob = outOff + b * outStride;
                int r = tile;
                if (count == 1) {
                    for (; r < tileEnd; r++) out[ob + r] = dot(r, x, xb);
                    continue;
                }
                if (count == BATCH_BLOCK && batch >= COMPUTE_BOUND_BATCH) {
                    for (; r + 2 <= tileEnd; r += 2) block2x4(r, x, xb, xStride, out, ob, outStride);
                }
                for (; r < tileEnd; r++) block1x4(r, x, xb, xStride, count, out, ob, outStride);
            }
        }
    }

    /**
     * Row r times {@code count} (1 to 4) batch rows at x[xb], x[xb + xStride], ...: one weight load feeds 4
     * FMAs. With fewer than 4 rows the last one is computed again in the spare accumulators, which costs
     * arithmetic but not memory traffic (the point when verifying a few draft tokens).
     */
    private void block1x4(int r, float[] x, int xb, int xStride, int count, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb;
        int x1 = count > 1 ? x0 + xStride : x0;
        int x2 = count > 2 ? x1 + xStride : x1;
        int x3 = count > 3 ? x2 + xStride : x2;
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
        }
        float s0, s1, s2, s3;
        if (LaneSums.MERGEABLE) {
            // Two merges, then the merged vector folds onto itself: accumulator c lands in lane 8*(c&1) + 4*(c>>1).
            FloatVector m = LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3));
            m = LaneSums.merge2(m, m);
            m = LaneSums.merge1(m, m);
            s0 = m.lane(0);
            s1 = m.lane(8);
            s2 = m.lane(4);
            s3 = m.lane(12);
        } else {
            s0 = LaneSums.sum(a0);
            s1 = LaneSums.sum(a1);
            s2 = LaneSums.sum(a2);
            s3 = LaneSums.sum(a3);
        }
        out[ob + r] = addTail(s0, w, x, x0);
        if (count > 1) out[ob + outStride + r] = addTail(s1, w, x, x1);
        if (count > 2) out[ob + 2 * outStride + r] = addTail(s2, w, x, x2);
        if (count > 3) out[ob + 3 * outStride + r] = addTail(s3, w, x, x3);
    }

    /** Rows r and r+1 times 4 batch rows: 6 loads feed 8 FMAs. */
    private void block2x4(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w0 = r * rowBytes, w1 = w0 + rowBytes;
        int x0 = xb, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
        FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int i = 0; i < vectorCols; i += LANES) {
            long o = (long) i * Float.BYTES;
            FloatVector v0 = FloatVector.fromArray(SPECIES, x, x0 + i);
            FloatVector v1 = FloatVector.fromArray(SPECIES, x, x1 + i);
            FloatVector v2 = FloatVector.fromArray(SPECIES, x, x2 + i);
            FloatVector v3 = FloatVector.fromArray(SPECIES, x, x3 + i);
            FloatVector w = FloatVector.fromMemorySegment(SPECIES, data, w0 + o, LE);
            a0 = w.fma(v0, a0); a1 = w.fma(v1, a1); a2 = w.fma(v2, a2); a3 = w.fma(v3, a3);
            w = FloatVector.fromMemorySegment(SPECIES, data, w1 + o, LE);
            b0 = w.fma(v0, b0); b1 = w.fma(v1, b1); b2 = w.fma(v2, b2); b3 = w.fma(v3, b3);
        }
        if (!LaneSums.MERGEABLE) {
            int o1 = ob + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
            out[ob + r] = finish(a0, w0, x, x0); out[o1 + r] = finish(a1, w0, x, x1);
            out[o2 + r] = finish(a2, w0, x, x2); out[o3 + r] = finish(a3, w0, x, x3);
            out[ob + r + 1] = finish(b0, w1, x, x0); out[o1 + r + 1] = finish(b1, w1, x, x1);
            out[o2 + r + 1] = finish(b2, w1, x, x2); out[o3 + r + 1] = finish(b3, w1, x, x3);
            return;
        }
        // Accumulators a0..a3, b0..b3 are numbers 0..7; after three merges and a self-merge, number j
        // lands in lane bitReverse4(j): a0 0, a1 8, a2 4, a3 12, b0 2, b1 10, b2 6, b3 14.
        FloatVector m = LaneSums.merge2(
                LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3)),
                LaneSums.merge4(LaneSums.merge8(b0, b1), LaneSums.merge8(b2, b3)));
        m = LaneSums.merge1(m, m);
        int o1 = ob + outStride, o2 = o1 + outStride, o3 = o2 + outStride;
        out[ob + r] = addTail(m.lane(0), w0, x, x0);
        out[o1 + r] = addTail(m.lane(8), w0, x, x1);
        out[o2 + r] = addTail(m.lane(4), w0, x, x2);
        out[o3 + r] = addTail(m.lane(12), w0, x, x3);
        out[ob + r + 1] = addTail(m.lane(2), w1, x, x0);
        out[o1 + r + 1] = addTail(m.lane(10), w1, x, x1);
        out[o2 + r + 1] = addTail(m.lane(6), w1, x, x2);
        out[o3 + r + 1] = addTail(m.lane(14), w1, x, x3);
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
        return addTail(LaneSums.sum(acc), rowBase, x, xb);
    }

    private float addTail(float sum, long rowBase, float[] x, int xb) {
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
