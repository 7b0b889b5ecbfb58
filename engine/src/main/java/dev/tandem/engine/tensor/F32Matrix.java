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
 * several independent accumulators (from {@link #COMPUTE_BOUND_BATCH} rows on, two weight rows times four
 * batch rows, each weight pair meeting a group of {@link #GROUP_ROWS} batch rows before the next); 5 to 8
 * batch rows (verifying that many draft tokens) use one kernel of that width, so each weight is read once. Weight rows are read one after another: interleaving several rows
 * streamed from memory measured slower (one sequential stream prefetches best), and a 4x4 block of
 * accumulators grew too big for C2 to keep its vectors unboxed. Every (weight row, batch row) dot product
 * adds in the same order whatever the kernel, so a row's result does not depend on the batch around it.
 *
 * <p>This row-major kernel serves weights read in place (the file mapping, drafts on the heap); a stage's
 * resident copy is a {@link PackedF32Matrix}, whose layout needs no lane sums and makes several batch rows
 * much cheaper.
 */
public final class F32Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Batch rows per block of the batched kernels: each weight vector loaded feeds this many accumulators. */
    private static final int BATCH_BLOCK = 4;
    /**
     * From this batch size on, use the 2x4 kernel (fewer loads per FMA; streaming two rows from memory is
     * slower, so not for small batches). A batch of exactly 8 (verifying 8 draft tokens) measured faster
     * with the 1x8 kernel, which reads each weight once.
     */
    private static final int COMPUTE_BOUND_BATCH = 9;
    /**
     * Batch rows that one pair of weight rows meets before the next pair (in the compute-bound case):
     * measured on the 32000x288 output head at batch 16, groups of 8 or 12 beat both 4 (a block at a time,
     * the weights of the tile then re-read from L2) and 16 (by 10 to 25%).
     */
    private static final int GROUP_ROWS = 8;
    /** Most batch rows of one wide kernel (5 to 8 rows, below {@link #COMPUTE_BOUND_BATCH}). */
    private static final int WIDE_BLOCK = 8;
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

    @Override public MemorySegment segment() { return data; }

    @Override public WeightMatrix withSegment(MemorySegment copy) { return new F32Matrix(copy, rows, cols); }

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
            int b = 0;
            if (batch >= COMPUTE_BOUND_BATCH) {
                for (; b + BATCH_BLOCK <= batch; b += GROUP_ROWS) {
                    int groupEnd = b + Math.min(GROUP_ROWS, (batch - b) / BATCH_BLOCK * BATCH_BLOCK);
                    computeBoundGroup(tile, tileEnd, x, xOff, xStride, b, groupEnd, out, outOff, outStride);
                }
                b = batch / BATCH_BLOCK * BATCH_BLOCK; // 0 to 3 rows are left for the kernels below
            }
            while (b < batch) {
                int left = batch - b;
                int xb = xOff + b * xStride;
                int ob = outOff + b * outStride;
                int r = tile;
                if (left == 1) {
                    for (; r < tileEnd; r++) out[ob + r] = dot(r, x, xb);
                    b += 1;
                } else if (left <= BATCH_BLOCK) {
                    for (; r < tileEnd; r++) block1x4(r, x, xb, xStride, left, out, ob, outStride);
                    b += left;
                } else {
                    int count = Math.min(WIDE_BLOCK, left);
                    for (; r < tileEnd; r++) blockWide(r, x, xb, xStride, count, out, ob, outStride);
                    b += count;
                }
            }
        }
    }

    /**
     * Rows [tile, tileEnd) times batch rows [b, groupEnd), whole blocks of {@link #BATCH_BLOCK}: each pair of
     * weight rows passes over all blocks of the group while it is in L1. On a matrix too big for the caches
     * (the output head) this measured faster than passing a whole tile per block, where the first block waits
     * on memory and the others re-read the tile from L2.
     */
    private void computeBoundGroup(int tile, int tileEnd, float[] x, int xOff, int xStride, int b, int groupEnd,
                                   float[] out, int outOff, int outStride) {
        int r = tile;
        for (; r + 2 <= tileEnd; r += 2) {
            for (int g = b; g < groupEnd; g += BATCH_BLOCK) {
                block2x4(r, x, xOff + g * xStride, xStride, out, outOff + g * outStride, outStride);
            }
        }
        for (; r < tileEnd; r++) {
            for (int g = b; g < groupEnd; g += BATCH_BLOCK) {
                block1x4(r, x, xOff + g * xStride, xStride, BATCH_BLOCK, out, outOff + g * outStride, outStride);
            }
        }
    }

    /**
     * The wide kernels: row r times 5 to 8 batch rows, so that verifying 5 to 8 draft tokens passes over
     * each weight once, with one FMA per batch row and weight vector (no spare accumulators: past 4 rows the
     * kernel is bound by loads and FMAs, not memory). The accumulators, numbered 0..7, are reduced together:
     * after three pairwise merges and a self-merge, accumulator j's sum is in lane bitReverse4(j)
     * (0 0, 1 8, 2 4, 3 12, 4 2, 5 10, 6 6, 7 14), bit-for-bit the {@link LaneSums#sum} of each.
     */
    private void blockWide(int r, float[] x, int xb, int xStride, int count, float[] out, int ob, int outStride) {
        switch (count) {
            case 5 -> block1x5(r, x, xb, xStride, out, ob, outStride);
            case 6 -> block1x6(r, x, xb, xStride, out, ob, outStride);
            case 7 -> block1x7(r, x, xb, xStride, out, ob, outStride);
            default -> block1x8(r, x, xb, xStride, out, ob, outStride);
        }
    }

    /** Row r times 5 batch rows: one weight load feeds 5 FMAs (see {@link #blockWide}). */
    private void block1x5(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z, a3 = z, a4 = z;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
            a4 = wv.fma(FloatVector.fromArray(SPECIES, x, x4 + i), a4);
        }
        if (!LaneSums.MERGEABLE) {
            out[ob + r] = finish(a0, w, x, x0);
            out[ob + outStride + r] = finish(a1, w, x, x1);
            out[ob + 2 * outStride + r] = finish(a2, w, x, x2);
            out[ob + 3 * outStride + r] = finish(a3, w, x, x3);
            out[ob + 4 * outStride + r] = finish(a4, w, x, x4);
            return;
        }
        FloatVector m = LaneSums.merge2(
                LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3)),
                LaneSums.merge4(LaneSums.merge8(a4, z), LaneSums.merge8(z, z)));
        m = LaneSums.merge1(m, m);
        out[ob + r] = addTail(m.lane(0), w, x, x0);
        out[ob + outStride + r] = addTail(m.lane(8), w, x, x1);
        out[ob + 2 * outStride + r] = addTail(m.lane(4), w, x, x2);
        out[ob + 3 * outStride + r] = addTail(m.lane(12), w, x, x3);
        out[ob + 4 * outStride + r] = addTail(m.lane(2), w, x, x4);
    }

    /** Row r times 6 batch rows: one weight load feeds 6 FMAs (see {@link #blockWide}). */
    private void block1x6(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
            a4 = wv.fma(FloatVector.fromArray(SPECIES, x, x4 + i), a4);
            a5 = wv.fma(FloatVector.fromArray(SPECIES, x, x5 + i), a5);
        }
        if (!LaneSums.MERGEABLE) {
            out[ob + r] = finish(a0, w, x, x0);
            out[ob + outStride + r] = finish(a1, w, x, x1);
            out[ob + 2 * outStride + r] = finish(a2, w, x, x2);
            out[ob + 3 * outStride + r] = finish(a3, w, x, x3);
            out[ob + 4 * outStride + r] = finish(a4, w, x, x4);
            out[ob + 5 * outStride + r] = finish(a5, w, x, x5);
            return;
        }
        FloatVector m = LaneSums.merge2(
                LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3)),
                LaneSums.merge4(LaneSums.merge8(a4, a5), LaneSums.merge8(z, z)));
        m = LaneSums.merge1(m, m);
        out[ob + r] = addTail(m.lane(0), w, x, x0);
        out[ob + outStride + r] = addTail(m.lane(8), w, x, x1);
        out[ob + 2 * outStride + r] = addTail(m.lane(4), w, x, x2);
        out[ob + 3 * outStride + r] = addTail(m.lane(12), w, x, x3);
        out[ob + 4 * outStride + r] = addTail(m.lane(2), w, x, x4);
        out[ob + 5 * outStride + r] = addTail(m.lane(10), w, x, x5);
    }

    /** Row r times 7 batch rows: one weight load feeds 7 FMAs (see {@link #blockWide}). */
    private void block1x7(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride, x6 = x5 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
            a4 = wv.fma(FloatVector.fromArray(SPECIES, x, x4 + i), a4);
            a5 = wv.fma(FloatVector.fromArray(SPECIES, x, x5 + i), a5);
            a6 = wv.fma(FloatVector.fromArray(SPECIES, x, x6 + i), a6);
        }
        if (!LaneSums.MERGEABLE) {
            out[ob + r] = finish(a0, w, x, x0);
            out[ob + outStride + r] = finish(a1, w, x, x1);
            out[ob + 2 * outStride + r] = finish(a2, w, x, x2);
            out[ob + 3 * outStride + r] = finish(a3, w, x, x3);
            out[ob + 4 * outStride + r] = finish(a4, w, x, x4);
            out[ob + 5 * outStride + r] = finish(a5, w, x, x5);
            out[ob + 6 * outStride + r] = finish(a6, w, x, x6);
            return;
        }
        FloatVector m = LaneSums.merge2(
                LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3)),
                LaneSums.merge4(LaneSums.merge8(a4, a5), LaneSums.merge8(a6, z)));
        m = LaneSums.merge1(m, m);
        out[ob + r] = addTail(m.lane(0), w, x, x0);
        out[ob + outStride + r] = addTail(m.lane(8), w, x, x1);
        out[ob + 2 * outStride + r] = addTail(m.lane(4), w, x, x2);
        out[ob + 3 * outStride + r] = addTail(m.lane(12), w, x, x3);
        out[ob + 4 * outStride + r] = addTail(m.lane(2), w, x, x4);
        out[ob + 5 * outStride + r] = addTail(m.lane(10), w, x, x5);
        out[ob + 6 * outStride + r] = addTail(m.lane(6), w, x, x6);
    }

    /** Row r times 8 batch rows: one weight load feeds 8 FMAs (see {@link #blockWide}). */
    private void block1x8(int r, float[] x, int xb, int xStride, float[] out, int ob, int outStride) {
        long w = r * rowBytes;
        int x0 = xb, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride, x6 = x5 + xStride, x7 = x6 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
        for (int i = 0; i < vectorCols; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(SPECIES, data, w + (long) i * Float.BYTES, LE);
            a0 = wv.fma(FloatVector.fromArray(SPECIES, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(SPECIES, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(SPECIES, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(SPECIES, x, x3 + i), a3);
            a4 = wv.fma(FloatVector.fromArray(SPECIES, x, x4 + i), a4);
            a5 = wv.fma(FloatVector.fromArray(SPECIES, x, x5 + i), a5);
            a6 = wv.fma(FloatVector.fromArray(SPECIES, x, x6 + i), a6);
            a7 = wv.fma(FloatVector.fromArray(SPECIES, x, x7 + i), a7);
        }
        if (!LaneSums.MERGEABLE) {
            out[ob + r] = finish(a0, w, x, x0);
            out[ob + outStride + r] = finish(a1, w, x, x1);
            out[ob + 2 * outStride + r] = finish(a2, w, x, x2);
            out[ob + 3 * outStride + r] = finish(a3, w, x, x3);
            out[ob + 4 * outStride + r] = finish(a4, w, x, x4);
            out[ob + 5 * outStride + r] = finish(a5, w, x, x5);
            out[ob + 6 * outStride + r] = finish(a6, w, x, x6);
            out[ob + 7 * outStride + r] = finish(a7, w, x, x7);
            return;
        }
        FloatVector m = LaneSums.merge2(
                LaneSums.merge4(LaneSums.merge8(a0, a1), LaneSums.merge8(a2, a3)),
                LaneSums.merge4(LaneSums.merge8(a4, a5), LaneSums.merge8(a6, a7)));
        m = LaneSums.merge1(m, m);
        out[ob + r] = addTail(m.lane(0), w, x, x0);
        out[ob + outStride + r] = addTail(m.lane(8), w, x, x1);
        out[ob + 2 * outStride + r] = addTail(m.lane(4), w, x, x2);
        out[ob + 3 * outStride + r] = addTail(m.lane(12), w, x, x3);
        out[ob + 4 * outStride + r] = addTail(m.lane(2), w, x, x4);
        out[ob + 5 * outStride + r] = addTail(m.lane(10), w, x, x5);
        out[ob + 6 * outStride + r] = addTail(m.lane(6), w, x, x6);
        out[ob + 7 * outStride + r] = addTail(m.lane(14), w, x, x7);
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
