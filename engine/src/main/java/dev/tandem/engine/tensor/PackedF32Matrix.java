package dev.tandem.engine.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A float32 matrix packed for the products that stream it: rows in blocks of {@link #BLOCK_ROWS} (one vector's
 * lanes), blocks in groups of four (two on x86 without AVX-512, see {@link #INTERLEAVE}), and within a group,
 * column by column, its blocks' values of that column side by side (a vector per block, 256 bytes per column with
 * 16 lanes, 64 with 8). A block's outputs accumulate lane-wise,
 * {@code out[block] += w[block][c] * broadcast(x[c])} for c = 0..cols-1: no horizontal lane sums at all, each
 * weight vector loaded once feeds every batch row in flight, and each broadcast of x feeds up to four blocks.
 * Row-major {@link F32Matrix} needs a load of x per FMA and a lane reduction per output, which made verifying k
 * tokens cost about 2x one token; here a few batch rows cost little more than one, which is memory-bound.
 *
 * <p>Every output adds its products in one order, one fused multiply-add per column from column 0 on, whatever
 * the kernel, batch size or row range, so a row's result does not depend on the batch around it (the engine's
 * batch invariance and lossless verification rest on this). That order is not {@link F32Matrix}'s (lane sums),
 * so the two agree to rounding, not bit for bit. The last group is padded with zero rows, whose outputs are
 * never stored. {@link #segment()} holds the packed layout, so {@link #withSegment} takes packed bytes.
 */
public final class PackedF32Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Rows of a block: one vector holds one column of a block. */
    public static final int BLOCK_ROWS = SPECIES.length();
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes of one column of a block (one vector). */
    private static final long COLUMN_BYTES = (long) BLOCK_ROWS * Float.BYTES;
    /**
     * Blocks interleaved column by column, and blocks per pass of the kernels: four independent FMA chains (a
     * chain's latency is 4 cycles per column) that read one sequential stream, 256 bytes per column. Four blocks
     * stored one after another, four streams, measured half as fast for a single batch row on the output head
     * (the prefetchers follow one stream best).
     */
    private static final int QUAD = 4;
    /** Most batch rows of one pass of the single-block and pair kernels. */
    private static final int ROW_GROUP = 4;
    /**
     * Most batch rows of one quad pass (32 registers: six rows are 24 accumulators, 4 weight vectors and a broadcast).
     * Five rows in one pass rather than four and one: a 768 x 288 matrix in cache, one thread, 20.1 against 26.9 us
     * (AVX-512 Xeon). Six rows used to go by four and two, which read the quad twice: a whole stories15M forward
     * without the head took 1.04 ms for six rows against 0.85 for five and 0.73 for four (2-core AVX-512 Xeon).
     */
    private static final int QUAD_PASS_ROWS = 6;
    /**
     * x86 below AVX-512 has 16 vector registers, not 32: a quad times four rows (16 accumulators, 4 weights, 4
     * broadcasts) spills there. From three batch rows on, it runs two blocks times up to {@link #PAIR_ROW_GROUP}
     * rows per pass instead (12 accumulators, 2 weights, 1 broadcast): on a 2-core AVX2 EPYC, 1.3-1.6x faster on a
     * 768x288 matrix in cache for 3-16 rows (e.g. 5 rows 0.034-0.040 against 0.052-0.078 ms, one thread). With the
     * two-block layout ({@link #INTERLEAVE}), whole forwards against quads of four (both builds alternating in one
     * JVM, median pair ratios of two runs): 16 sequences 0.83-0.84x the time, verifying 5 tokens 0.92-0.94x, 8
     * tokens 0.98x, 3 and 4 tokens 0.98x, one token 0.95x (its quad passes read two groups). One and two rows stay on
     * quad passes: two-block passes measured 1.07x and 1.09x slower for them (two FMA chains per pass).
     */
    private static final boolean SIXTEEN_REGISTERS = SPECIES.vectorBitSize() < 512
            && System.getProperty("os.arch", "").matches("amd64|x86_64");
    /**
     * Most batch rows of one two-block pass: with sixteen registers every pass from three rows on, with 32 the pairs
     * left at the end of a range that is not whole quads (a 288-row matrix's last 32 rows). There five rows had gone
     * by two and three, reading the pair twice with four and six FMA chains; in one pass a whole forward without the
     * head took 0.98x the time for 5 and 16 rows (both builds alternating in one JVM, medians of 80 pairs).
     */
    private static final int PAIR_ROW_GROUP = 6;
    /** Fewest batch rows that take the two-block passes with sixteen registers (one or two fit a quad's). */
    private static final int PAIR_MIN_BATCH = 3;
    /**
     * Blocks stored interleaved column by column: a quad's four (its kernels read one stream), or with sixteen
     * registers two, so that a two-block pass reads one sequential stream of 64-byte lines too (over the quad
     * layout, such passes read every other line of a quad's 128-byte columns, and ran slower from memory).
     */
    private static final int INTERLEAVE = SIXTEEN_REGISTERS ? 2 : QUAD;
    /** Rows of one interleaved group. */
    private static final int GROUP_ROWS = INTERLEAVE * BLOCK_ROWS;
    /** Bytes from one column of a group to the next. */
    private static final long COLUMN_STRIDE = INTERLEAVE * COLUMN_BYTES;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final long groupBytes;

    /** A matrix over {@code packed}, which must hold {@link #packedBytes}{@code (rows, cols)} in the packed layout. */
    public PackedF32Matrix(MemorySegment packed, int rows, int cols) {
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("bad shape " + rows + "x" + cols);
        if (packed.byteSize() != packedBytes(rows, cols)) {
            throw new IllegalArgumentException("segment of " + packed.byteSize() + " bytes does not hold a packed "
                    + rows + "x" + cols + " float32 matrix (" + packedBytes(rows, cols) + " bytes)");
        }
        this.data = packed;
        this.rows = rows;
        this.cols = cols;
        this.groupBytes = cols * COLUMN_STRIDE;
    }

    /** Bytes of the packed layout of a {@code rows x cols} matrix: whole quads of blocks, padded with zero rows. */
    public static long packedBytes(int rows, int cols) {
        return (long) groups(rows) * cols * INTERLEAVE * COLUMN_BYTES;
    }

    /** Packs float32 {@code source} into {@code dst} ({@link #packedBytes} long) and returns the matrix reading it. */
    public static PackedF32Matrix pack(WeightMatrix source, MemorySegment dst) {
        if (source.type() != TensorType.F32) throw new IllegalArgumentException("not a float32 matrix: " + source.type());
        int rows = source.rows();
        int cols = source.cols();
        long bytes = packedBytes(rows, cols);
        if (dst.byteSize() != bytes) {
            throw new IllegalArgumentException("destination of " + dst.byteSize() + " bytes, packing needs " + bytes);
        }
        PackedF32Matrix packed = new PackedF32Matrix(dst, rows, cols);
        float[] row = new float[cols];
        for (int r = 0; r < groups(rows) * GROUP_ROWS; r++) {
            if (r < rows) source.readRow(r, row, 0);
            else Arrays.fill(row, 0f);
            long base = packed.valueBase(r);
            for (int c = 0; c < cols; c++) dst.set(LE_FLOAT, base + c * COLUMN_STRIDE, row[c]);
        }
        return packed;
    }

    /**
     * Packs row-major {@code src} ({@code rows x cols} floats) into {@code dst}, which must hold at least
     * {@link #packedBytes}{@code (rows, cols) / 4} floats, and returns the matrix reading it: a copy a trainer makes
     * at every optimizer step, so plain array stores, a group's columns written in order (its source rows stay in L1).
     */
    public static PackedF32Matrix pack(float[] src, int rows, int cols, float[] dst) {
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException("bad shape " + rows + "x" + cols);
        Objects.checkFromIndexSize(0, rows * cols, src.length);
        long bytes = packedBytes(rows, cols);
        int floats = Math.toIntExact(bytes / Float.BYTES);
        Objects.checkFromIndexSize(0, floats, dst.length);
        int groupFloats = cols * GROUP_ROWS;
        for (int g = 0; g * GROUP_ROWS < rows; g++) {
            int firstRow = g * GROUP_ROWS;
            int live = Math.min(GROUP_ROWS, rows - firstRow);
            int base = g * groupFloats;
            // Within a group, column c holds its blocks' values side by side: block b's lane i at c * GROUP_ROWS + b * BLOCK_ROWS + i.
            for (int c = 0; c < cols; c++) {
                int at = base + c * GROUP_ROWS;
                for (int j = 0; j < live; j++) dst[at + j] = src[(firstRow + j) * cols + c];
                for (int j = live; j < GROUP_ROWS; j++) dst[at + j] = 0f;
            }
        }
        return new PackedF32Matrix(MemorySegment.ofArray(dst).asSlice(0, bytes), rows, cols);
    }

    private static int blocks(int rows) {
        return (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    }

    private static int groups(int rows) {
        return (blocks(rows) + INTERLEAVE - 1) / INTERLEAVE;
    }

    /** Byte offset of row r's value in column 0 (its column c is {@code c * COLUMN_STRIDE} further). */
    private long valueBase(int r) {
        return blockBase(r / BLOCK_ROWS) + (long) (r % BLOCK_ROWS) * Float.BYTES;
    }

    @Override public int rows() { return rows; }

    @Override public int cols() { return cols; }

    @Override public TensorType type() { return TensorType.F32; }

    @Override public MemorySegment segment() { return data; }

    @Override public WeightMatrix withSegment(MemorySegment copy) { return new PackedF32Matrix(copy, rows, cols); }

    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(dstOff, cols, dst.length);
        long base = valueBase(r);
        for (int c = 0; c < cols; c++) dst[dstOff + c] = data.get(LE_FLOAT, base + c * COLUMN_STRIDE);
    }

    /**
     * Copies rows [firstRow, firstRow + count) into {@code dst} column-major: row firstRow + i, column c at
     * {@code dst[c * count + i]}; rows past the last one are zero. Both must be whole blocks ({@link #BLOCK_ROWS}).
     * One bulk read per block and column.
     */
    public void readRows(int firstRow, int count, float[] dst) {
        if (firstRow < 0 || count < 0 || firstRow % BLOCK_ROWS != 0 || count % BLOCK_ROWS != 0) {
            throw new IllegalArgumentException("rows [" + firstRow + ", " + (firstRow + count) + ") are not whole blocks of " + BLOCK_ROWS);
        }
        Objects.checkFromIndexSize(0, count * cols, dst.length);
        int stored = groups(rows) * INTERLEAVE;
        for (int b = 0; b < count / BLOCK_ROWS; b++) {
            int blk = firstRow / BLOCK_ROWS + b;
            for (int c = 0; c < cols; c++) {
                int at = c * count + b * BLOCK_ROWS;
                if (blk < stored) MemorySegment.copy(data, LE_FLOAT, blockBase(blk) + c * COLUMN_STRIDE, dst, at, BLOCK_ROWS);
                else Arrays.fill(dst, at, at + BLOCK_ROWS, 0f);
            }
        }
    }

    /**
     * Row r's product with {@code x[xOff .. xOff + cols)}, bit for bit what {@link #matmul} gives for that row (the
     * same fused multiply-adds in the same order, one lane of the vector kernels). For a few rows picked out of a
     * large matrix (the greedy screen's candidates), without running a 16-row block through the vector kernels.
     */
    public float rowDot(int r, float[] x, int xOff) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(xOff, cols, x.length);
        long base = valueBase(r);
        float acc = 0f;
        for (int c = 0; c < cols; c++) acc = Math.fma(data.get(LE_FLOAT, base + c * COLUMN_STRIDE), x[xOff + c], acc);
        return acc;
    }

    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch,
                       float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        Objects.checkFromToIndex(rowStart, rowEnd, rows);
        if (batch <= 0 || rowStart == rowEnd) return;
        Objects.checkFromIndexSize(xOff, (batch - 1) * xStride + cols, x.length);
        Objects.checkFromIndexSize(outOff + rowStart, (batch - 1) * outStride + (rowEnd - rowStart), out.length);
        int end = blocks(rowEnd);
        int blk = rowStart / BLOCK_ROWS;
        // The kernels read the blocks of a pass through one pointer at fixed distances, which needs the pass to
        // start a group (pairs: an even block); a range that starts inside one (thread pieces are whole blocks)
        // first goes by single block and pair. One pointer rather than one per block measured 1.5-1.7x faster for
        // six rows on AVX2 (fewer bounds checks and address registers in a loop that uses all 16 vector registers).
        if (blk % 2 != 0 && blk < end) singlePass(blk++, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
        if (blk % INTERLEAVE != 0 && blk + 2 <= end) {
            pairPass(blk, PAIR_ROW_GROUP, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
            blk += 2;
        }
        if (SIXTEEN_REGISTERS && batch >= PAIR_MIN_BATCH) {
            for (; blk + 2 <= end; blk += 2) pairPass(blk, PAIR_ROW_GROUP, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
            if (blk < end) singlePass(blk, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
            return;
        }
        // Four blocks at a time meet every batch row, a group of rows per pass, the quad's weights staying in
        // L1/L2 between passes; the 1 to 3 blocks left at the end of a range (thread pieces are whole blocks,
        // often not whole quads) go by pair and single block rather than wasting FMAs on repeats.
        for (; blk + QUAD <= end; blk += QUAD) quadPass(blk, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
        if (blk + 2 <= end) {
            pairPass(blk, PAIR_ROW_GROUP, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
            blk += 2;
        }
        if (blk < end) singlePass(blk, x, xOff, xStride, batch, out, outOff, outStride, rowStart, rowEnd);
    }

    /** Byte offset of block {@code blk}'s column 0. */
    private long blockBase(int blk) {
        return (long) (blk / INTERLEAVE) * groupBytes + (long) (blk % INTERLEAVE) * COLUMN_BYTES;
    }

    /** Blocks [blk, blk + 4) times every batch row, at most {@link #QUAD_PASS_ROWS} rows per pass. */
    private void quadPass(int blk, float[] x, int xOff, int xStride, int batch,
                          float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        long p0 = blockBase(blk);
        long upper = blockBase(blk + 2) - p0;
        // Up to six rows in one pass; more by passes of four (the last of five when five are left), each pass reading
        // the quad again from L2: sixteen rows by 5 + 5 + 6 measured ~3% slower than by four passes of four.
        int b = 0;
        if (batch > QUAD_PASS_ROWS) {
            while (batch - b > ROW_GROUP + 1) {
                quad4(p0, upper, blk, x, xOff + b * xStride, xStride, out, outOff + b * outStride, outStride, rowStart, rowEnd);
                b += ROW_GROUP;
            }
        }
        int xb = xOff + b * xStride;
        int ob = outOff + b * outStride;
        switch (batch - b) {
            case 1 -> quad1(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 2 -> quad2(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 3 -> quad3(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 4 -> quad4(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 5 -> quad5(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            default -> quad6(p0, upper, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
        }
    }

    /**
     * Blocks [blk, blk + 2) times every batch row, in passes of at most {@code group} rows (as even as they come:
     * 16 rows with groups of 6 go 6, 5, 5).
     */
    private void pairPass(int blk, int group, float[] x, int xOff, int xStride, int batch,
                          float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        long p0 = blockBase(blk);
        int passes = (batch + group - 1) / group;
        for (int pass = 0, b = 0; pass < passes; pass++) {
            int n = (batch - b) / (passes - pass);
            int xb = xOff + b * xStride;
            int ob = outOff + b * outStride;
            switch (n) {
                case 1 -> pair1(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
                case 2 -> pair2(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
                case 3 -> pair3(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
                case 4 -> pair4(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
                case 5 -> pair5(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
                default -> pair6(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            }
            b += n;
        }
    }

    /** Blocks [blk, blk + 1) times every batch row, {@link #ROW_GROUP} rows per pass. */
    private void singlePass(int blk, float[] x, int xOff, int xStride, int batch,
                            float[] out, int outOff, int outStride, int rowStart, int rowEnd) {
        long p0 = blockBase(blk);
        int b = 0;
        for (; b + ROW_GROUP <= batch; b += ROW_GROUP) {
            single4(p0, blk, x, xOff + b * xStride, xStride, out, outOff + b * outStride, outStride, rowStart, rowEnd);
        }
        int xb = xOff + b * xStride;
        int ob = outOff + b * outStride;
        switch (batch - b) {
            case 1 -> single1(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 2 -> single2(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            case 3 -> single3(p0, blk, x, xb, xStride, out, ob, outStride, rowStart, rowEnd);
            default -> { }
        }
    }

    /** 4 blocks from p (the upper two {@code upper} bytes on) times 1 batch row: 4 weight loads and 1 broadcast feed 4 FMAs. */
    private void quad1(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
    }

    /** 4 blocks from p (the upper two {@code upper} bytes on) times 2 batch rows: 4 weight loads and 2 broadcasts feed 8 FMAs. */
    private void quad2(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1); c1 = wc.fma(v1, c1); d1 = wd.fma(v1, d1);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c1.intoArray(out, o0 + outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c1, blk + 2, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d1.intoArray(out, o0 + outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d1, blk + 3, out, o0 + outStride, rowStart, rowEnd);
    }

    /** 4 blocks from p (the upper two {@code upper} bytes on) times 3 batch rows: 4 weight loads and 3 broadcasts feed 12 FMAs. */
    private void quad3(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1); c1 = wc.fma(v1, c1); d1 = wd.fma(v1, d1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2); c2 = wc.fma(v2, c2); d2 = wd.fma(v2, d2);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c1.intoArray(out, o0 + outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c1, blk + 2, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d1.intoArray(out, o0 + outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d1, blk + 3, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c2.intoArray(out, o0 + 2 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c2, blk + 2, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d2.intoArray(out, o0 + 2 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d2, blk + 3, out, o0 + 2 * outStride, rowStart, rowEnd);
    }

    /** 4 blocks from p (the upper two {@code upper} bytes on) times 4 batch rows: 4 weight loads and 4 broadcasts feed 16 FMAs. */
    private void quad4(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z, a3 = z, b3 = z, c3 = z, d3 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(SPECIES, x[x3 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1); c1 = wc.fma(v1, c1); d1 = wd.fma(v1, d1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2); c2 = wc.fma(v2, c2); d2 = wd.fma(v2, d2);
            a3 = wa.fma(v3, a3); b3 = wb.fma(v3, b3); c3 = wc.fma(v3, c3); d3 = wd.fma(v3, d3);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c1.intoArray(out, o0 + outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c1, blk + 2, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d1.intoArray(out, o0 + outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d1, blk + 3, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c2.intoArray(out, o0 + 2 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c2, blk + 2, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d2.intoArray(out, o0 + 2 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d2, blk + 3, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c3.intoArray(out, o0 + 3 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c3, blk + 2, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d3.intoArray(out, o0 + 3 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d3, blk + 3, out, o0 + 3 * outStride, rowStart, rowEnd);
    }

    /** 4 blocks from p times 5 batch rows: 20 accumulators, 4 weight vectors and a broadcast (32 registers only). */
    private void quad5(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z;
        FloatVector a3 = z, b3 = z, c3 = z, d3 = z, a4 = z, b4 = z, c4 = z, d4 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v = FloatVector.broadcast(SPECIES, x[x0 + c]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = FloatVector.broadcast(SPECIES, x[x1 + c]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = FloatVector.broadcast(SPECIES, x[x2 + c]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
            v = FloatVector.broadcast(SPECIES, x[x3 + c]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3); c3 = wc.fma(v, c3); d3 = wd.fma(v, d3);
            v = FloatVector.broadcast(SPECIES, x[x4 + c]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4); c4 = wc.fma(v, c4); d4 = wd.fma(v, d4);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c1.intoArray(out, o0 + outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c1, blk + 2, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d1.intoArray(out, o0 + outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d1, blk + 3, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c2.intoArray(out, o0 + 2 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c2, blk + 2, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d2.intoArray(out, o0 + 2 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d2, blk + 3, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c3.intoArray(out, o0 + 3 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c3, blk + 2, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d3.intoArray(out, o0 + 3 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d3, blk + 3, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a4.intoArray(out, o0 + 4 * outStride + blk * BLOCK_ROWS);
        else storePart(a4, blk, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b4.intoArray(out, o0 + 4 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b4, blk + 1, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c4.intoArray(out, o0 + 4 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c4, blk + 2, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d4.intoArray(out, o0 + 4 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d4, blk + 3, out, o0 + 4 * outStride, rowStart, rowEnd);
    }

    /** 4 blocks from p times 6 batch rows: 24 accumulators, 4 weight vectors and a broadcast (32 registers only). */
    private void quad6(long p, long upper, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z;
        FloatVector a3 = z, b3 = z, c3 = z, d3 = z, a4 = z, b4 = z, c4 = z, d4 = z, a5 = z, b5 = z, c5 = z, d5 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector wc = FloatVector.fromMemorySegment(SPECIES, d, p + upper, LE);
            FloatVector wd = FloatVector.fromMemorySegment(SPECIES, d, p + upper + COLUMN_BYTES, LE);
            FloatVector v = FloatVector.broadcast(SPECIES, x[x0 + c]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = FloatVector.broadcast(SPECIES, x[x1 + c]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = FloatVector.broadcast(SPECIES, x[x2 + c]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
            v = FloatVector.broadcast(SPECIES, x[x3 + c]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3); c3 = wc.fma(v, c3); d3 = wd.fma(v, d3);
            v = FloatVector.broadcast(SPECIES, x[x4 + c]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4); c4 = wc.fma(v, c4); d4 = wd.fma(v, d4);
            v = FloatVector.broadcast(SPECIES, x[x5 + c]);
            a5 = wa.fma(v, a5); b5 = wb.fma(v, b5); c5 = wc.fma(v, c5); d5 = wd.fma(v, d5);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c0.intoArray(out, o0 + (blk + 2) * BLOCK_ROWS);
        else storePart(c0, blk + 2, out, o0, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d0.intoArray(out, o0 + (blk + 3) * BLOCK_ROWS);
        else storePart(d0, blk + 3, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c1.intoArray(out, o0 + outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c1, blk + 2, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d1.intoArray(out, o0 + outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d1, blk + 3, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c2.intoArray(out, o0 + 2 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c2, blk + 2, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d2.intoArray(out, o0 + 2 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d2, blk + 3, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c3.intoArray(out, o0 + 3 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c3, blk + 2, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d3.intoArray(out, o0 + 3 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d3, blk + 3, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a4.intoArray(out, o0 + 4 * outStride + blk * BLOCK_ROWS);
        else storePart(a4, blk, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b4.intoArray(out, o0 + 4 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b4, blk + 1, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c4.intoArray(out, o0 + 4 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c4, blk + 2, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d4.intoArray(out, o0 + 4 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d4, blk + 3, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a5.intoArray(out, o0 + 5 * outStride + blk * BLOCK_ROWS);
        else storePart(a5, blk, out, o0 + 5 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b5.intoArray(out, o0 + 5 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b5, blk + 1, out, o0 + 5 * outStride, rowStart, rowEnd);
        if (whole(blk + 2, rowStart, rowEnd)) c5.intoArray(out, o0 + 5 * outStride + (blk + 2) * BLOCK_ROWS);
        else storePart(c5, blk + 2, out, o0 + 5 * outStride, rowStart, rowEnd);
        if (whole(blk + 3, rowStart, rowEnd)) d5.intoArray(out, o0 + 5 * outStride + (blk + 3) * BLOCK_ROWS);
        else storePart(d5, blk + 3, out, o0 + 5 * outStride, rowStart, rowEnd);
    }

    /** 2 blocks from p times 1 batch row: 2 weight loads and 1 broadcast feed 2 FMAs. */
    private void pair1(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
    }

    /** 2 blocks from p times 2 batch rows: 2 weight loads and 2 broadcasts feed 4 FMAs. */
    private void pair2(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, a1 = z, b1 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
    }

    /** 2 blocks from p times 3 batch rows: 2 weight loads and 3 broadcasts feed 6 FMAs. */
    private void pair3(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
    }

    /** 2 blocks from p times 4 batch rows: 2 weight loads and 4 broadcasts feed 8 FMAs. */
    private void pair4(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(SPECIES, x[x3 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2);
            a3 = wa.fma(v3, a3); b3 = wb.fma(v3, b3);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
    }

    /** 2 blocks from p times 5 batch rows: 2 weight loads and 5 broadcasts feed 10 FMAs. */
    private void pair5(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(SPECIES, x[x3 + c]);
            FloatVector v4 = FloatVector.broadcast(SPECIES, x[x4 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2);
            a3 = wa.fma(v3, a3); b3 = wb.fma(v3, b3);
            a4 = wa.fma(v4, a4); b4 = wb.fma(v4, b4);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a4.intoArray(out, o0 + 4 * outStride + blk * BLOCK_ROWS);
        else storePart(a4, blk, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b4.intoArray(out, o0 + 4 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b4, blk + 1, out, o0 + 4 * outStride, rowStart, rowEnd);
    }

    /** 2 blocks from p times 6 batch rows: 2 weight loads and 6 broadcasts feed 12 FMAs. */
    private void pair6(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector wb = FloatVector.fromMemorySegment(SPECIES, d, p + COLUMN_BYTES, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(SPECIES, x[x3 + c]);
            FloatVector v4 = FloatVector.broadcast(SPECIES, x[x4 + c]);
            FloatVector v5 = FloatVector.broadcast(SPECIES, x[x5 + c]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1);
            a2 = wa.fma(v2, a2); b2 = wb.fma(v2, b2);
            a3 = wa.fma(v3, a3); b3 = wb.fma(v3, b3);
            a4 = wa.fma(v4, a4); b4 = wb.fma(v4, b4);
            a5 = wa.fma(v5, a5); b5 = wb.fma(v5, b5);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b0.intoArray(out, o0 + (blk + 1) * BLOCK_ROWS);
        else storePart(b0, blk + 1, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b1.intoArray(out, o0 + outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b1, blk + 1, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b2.intoArray(out, o0 + 2 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b2, blk + 1, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b3.intoArray(out, o0 + 3 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b3, blk + 1, out, o0 + 3 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a4.intoArray(out, o0 + 4 * outStride + blk * BLOCK_ROWS);
        else storePart(a4, blk, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b4.intoArray(out, o0 + 4 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b4, blk + 1, out, o0 + 4 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a5.intoArray(out, o0 + 5 * outStride + blk * BLOCK_ROWS);
        else storePart(a5, blk, out, o0 + 5 * outStride, rowStart, rowEnd);
        if (whole(blk + 1, rowStart, rowEnd)) b5.intoArray(out, o0 + 5 * outStride + (blk + 1) * BLOCK_ROWS);
        else storePart(b5, blk + 1, out, o0 + 5 * outStride, rowStart, rowEnd);
    }

    /** 1 block from p times 1 batch row: 1 weight load and 1 broadcast feed 1 FMA. */
    private void single1(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        FloatVector z = FloatVector.zero(SPECIES), a0 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            a0 = wa.fma(v0, a0);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
    }

    /** 1 block from p times 2 batch rows: 1 weight load and 2 broadcasts feed 2 FMAs. */
    private void single2(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            a0 = wa.fma(v0, a0);
            a1 = wa.fma(v1, a1);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
    }

    /** 1 block from p times 3 batch rows: 1 weight load and 3 broadcasts feed 3 FMAs. */
    private void single3(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            a0 = wa.fma(v0, a0);
            a1 = wa.fma(v1, a1);
            a2 = wa.fma(v2, a2);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
    }

    /** 1 block from p times 4 batch rows: 1 weight load and 4 broadcasts feed 4 FMAs. */
    private void single4(long p, int blk, float[] x, int x0, int xStride,
                        float[] out, int o0, int outStride, int rowStart, int rowEnd) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector z = FloatVector.zero(SPECIES), a0 = z, a1 = z, a2 = z, a3 = z;
        final MemorySegment d = data;
        final int n = cols;
        for (int c = 0; c < n; c++, p += COLUMN_STRIDE) {
            FloatVector wa = FloatVector.fromMemorySegment(SPECIES, d, p, LE);
            FloatVector v0 = FloatVector.broadcast(SPECIES, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(SPECIES, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(SPECIES, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(SPECIES, x[x3 + c]);
            a0 = wa.fma(v0, a0);
            a1 = wa.fma(v1, a1);
            a2 = wa.fma(v2, a2);
            a3 = wa.fma(v3, a3);
        }
        if (whole(blk, rowStart, rowEnd)) a0.intoArray(out, o0 + blk * BLOCK_ROWS);
        else storePart(a0, blk, out, o0, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a1.intoArray(out, o0 + outStride + blk * BLOCK_ROWS);
        else storePart(a1, blk, out, o0 + outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a2.intoArray(out, o0 + 2 * outStride + blk * BLOCK_ROWS);
        else storePart(a2, blk, out, o0 + 2 * outStride, rowStart, rowEnd);
        if (whole(blk, rowStart, rowEnd)) a3.intoArray(out, o0 + 3 * outStride + blk * BLOCK_ROWS);
        else storePart(a3, blk, out, o0 + 3 * outStride, rowStart, rowEnd);
    }

    /**
     * Whether block {@code blk}'s rows all lie in [rowStart, rowEnd): then a kernel stores its sums whole, in its own
     * body. Kernels call no helper that takes a vector on that path: C2 does not inline a method whose existing
     * compiled code is large, C1's code for vector operations is, and such a call boxes its vectors (see
     * {@link PackedInt8Matrix}).
     */
    private static boolean whole(int blk, int rowStart, int rowEnd) {
        int r0 = blk * BLOCK_ROWS;
        return r0 >= rowStart && r0 + BLOCK_ROWS <= rowEnd;
    }

    /** The rows of block {@code blk} that lie in [rowStart, rowEnd), at the end of a range that splits a block. */
    private static void storePart(FloatVector acc, int blk, float[] out, int o, int rowStart, int rowEnd) {
        int r0 = blk * BLOCK_ROWS;
        acc.intoArray(out, o + r0, SPECIES.indexInRange(r0 - rowStart, rowEnd - rowStart));
    }
}
