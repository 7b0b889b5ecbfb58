package dev.tandem.engine.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import dev.tandem.engine.memory.HugePageMemory;
import dev.tandem.engine.memory.HugePagesUnavailableException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * An int8 copy of a float32 matrix with one scale per row ({@code s_r = max|w_r| / 127}), in blocks of
 * {@link PackedF32Matrix}'s rows (a float vector's lanes), quads of four blocks interleaved column by column (so one
 * column of a quad is one 64-byte line with 16 lanes), for a quarter of the float32 bytes. Its products are approximations with a proven
 * bound: for every row, {@code |approx_r - exact_r| <= boundFactor() * s_r * sum_c |x_c|}, where exact_r is the
 * float32 product of the source matrix in any summation order over its columns (the bound covers the rounding of
 * each int8 value, half a step, plus the float32 rounding of both sums). {@code GreedyHead} uses this to find a
 * greedy token while reading a quarter of the output head. As a {@link WeightMatrix} ({@link #matmul}, type
 * {@link TensorType#INT8_ROWS}) it serves where approximate products are enough: the draft proposer's copy of a
 * draft model, whose proposals the target verifies anyway.
 *
 * <p>The copy lives off the heap, 64-byte aligned so that a column is one cache line (a heap byte[] starts 16 bytes
 * into an object, so each column would straddle two), and on 2 MB huge pages where the host gives them (a sweep of
 * the head then needs 5 TLB entries rather than 2,300): decode measured ~9% faster than with a heap copy ({@code
 * bench engine}, five alternating rounds). It is freed when the matrix is no longer reachable. Rows past
 * {@link #rows()} up to whole quads are zero with scale 0.
 *
 * <p>Each kernel scales and stores its sums itself, with no helper method taking a vector: C2 does not inline a
 * method whose existing compiled code is large ("already compiled into a big method"), and C1's code for vector
 * operations is; such a helper, once compiled by C1 first, was called out of line for the life of the process, each
 * call boxing its vectors (a JFR allocation profile of {@code bench osd}: ~1 GB a minute in the last stage's
 * one-row screen, and the young collections that came with it).
 */
public final class PackedInt8Matrix implements WeightMatrix {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Rows of a block: one float vector's lanes (as {@link PackedF32Matrix}'s). */
    public static final int BLOCK_ROWS = PackedF32Matrix.BLOCK_ROWS;
    /** One column of a block: as many bytes as the float vector has lanes. */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(BLOCK_ROWS * Byte.SIZE));
    private static final int QUAD = 4;
    /**
     * Past {@link #QUAD_PASS_MAX_BATCH} batch rows, a pass covers two blocks of a quad times three rows or more (a column's two converted
     * weight vectors feed two FMAs per row), so that each int8-to-float conversion, which with the FMAs bounds these
     * products, feeds several rows. Below AVX-512 (16 vector registers) at most five rows (10 accumulators): on a
     * 2-core AVX2 EPYC 29.8 GMAC/s for five rows against 23.5 with passes of three and two, 28.3 against 21.6 for four
     * (six rows per pass spilled, 18.6). With 32 registers up to eight (16 accumulators), as even as they come. A whole
     * quad times five rows (20 accumulators) was 3x slower than pairs on the AVX-512 Xeon. Each row's broadcast is
     * taken next to its FMAs: an earlier build that loaded every row's broadcast first measured four rows per pass
     * 1.7x slower than two passes of two.
     *
     * <p>The int8 head of stories15M on one thread of the 2-core AVX-512 Xeon (both builds in one JVM, alternating,
     * medians of 60 calls), interleaving each pass's x ({@link #approximate}) and taking up to eight rows per pass:
     * 0.80x, 0.84x, 0.70x, 0.60x, 0.82x and 0.83x the time of a pointer per row and passes of at most five (eight
     * from eight rows on) for 4, 5, 6, 7, 8 and 16 rows.
     */
    private static final boolean WIDE_PASSES = F.vectorBitSize() >= 512;
    /**
     * Most batch rows taken by whole-quad passes, which convert each column once for all their rows (4 per FMA
     * chain): two rows without 32 vector registers, where three rows (12 accumulators and 4 weights) would spill;
     * four with them. On the 2-core AVX-512 EPYC (Zen 5), the int8 head on one thread (medians of 5 rounds of 20
     * calls): three rows 236-241 us against 433-491 by pairs, four 391-400 against 449-473; five by a quad of three
     * and one of two would read 463 against 398 by pairs. {@code bench engine}, three alternating runs of each build:
     * verifying 3 tokens 1.30-1.45x one token against 1.76-1.85, 4 tokens 1.61-1.76 against 1.80-1.98, four sequences
     * 4214-4740 tok/s against 3687-4239.
     */
    private static final int QUAD_PASS_MAX_BATCH = WIDE_PASSES ? 4 : 2;
    /** Most rows of one pass: 8 with 32 vector registers, else 5. */
    private static final int PASS_ROWS = WIDE_PASSES ? 8 : 5;
    /** Rows of a quad: the unit a range of rows is split into (as {@link PackedF32Matrix}'s, read quad by quad). */
    public static final int QUAD_ROWS = QUAD * BLOCK_ROWS;
    private static final int COLUMN_BYTES = QUAD_ROWS;
    private static final float LEVELS = 127f;
    /** float32's unit roundoff, 2^-24. */
    private static final double UNIT_ROUNDOFF = 0x1p-24;
    /**
     * Slack over the bound's terms, relative to s_r * sum|x|: covers the rounding of the scale division, of the
     * final scaling, of sum|x| and of the comparisons that use the bound (each well under 1e-4 here).
     */
    private static final double SLACK = 0.02;

    private final MemorySegment data;
    private final long dataBytes;
    private final float[] scales;
    private final int rows;
    private final int cols;
    private final int quads;
    private final int quadBytes;
    private final float boundFactor;

    private PackedInt8Matrix(MemorySegment data, long dataBytes, float[] scales, int rows, int cols) {
        this.data = data;
        this.dataBytes = dataBytes;
        this.scales = scales;
        this.rows = rows;
        this.cols = cols;
        this.quads = quadsFor(rows);
        this.quadBytes = cols * COLUMN_BYTES;
        // Half a quantization step per value, plus gamma_cols * sum|q x| (<= 127 * sum|x|) for the approximate sum
        // and the same for the exact float32 one, which may add its products in any order.
        double gamma = cols * UNIT_ROUNDOFF / (1 - cols * UNIT_ROUNDOFF);
        this.boundFactor = (float) (0.5 + LEVELS * UNIT_ROUNDOFF + 2 * gamma * LEVELS * (1 + gamma) + SLACK);
    }

    private static int quadsFor(int rows) {
        return (rows + QUAD_ROWS - 1) / QUAD_ROWS;
    }

    /**
     * Quantizes {@code source} (any type; its rows are read as floats). Refuses a matrix with a value that is
     * not finite, where no bound holds.
     */
    public static PackedInt8Matrix quantize(WeightMatrix source) {
        return quantize(source, allocate(bytesFor(source.rows(), source.cols())));
    }

    /**
     * As {@link #quantize(WeightMatrix)}, into {@code data}: zero-filled, 64-byte aligned and at least
     * {@link #bytesFor} long (so that several copies can share one region of huge pages).
     */
    public static PackedInt8Matrix quantize(WeightMatrix source, MemorySegment data) {
        int rows = source.rows();
        int cols = source.cols();
        int quads = quadsFor(rows);
        long bytes = bytesFor(rows, cols);
        if (data.byteSize() < bytes) throw new IllegalArgumentException("an int8 copy of " + rows + "x" + cols + " needs " + bytes + " bytes, got " + data.byteSize());
        if (data.address() % COLUMN_BYTES != 0) throw new IllegalArgumentException("an int8 copy needs " + COLUMN_BYTES + "-byte aligned memory");
        float[] scales = new float[quads * QUAD_ROWS];
        // One quad at a time, column-major like the copy: a packed source is read a block's column at a time (row
        // by row, its reads would stride across lines).
        float[] quad = new float[cols * QUAD_ROWS];
        float[] row = source instanceof PackedF32Matrix ? null : new float[cols];
        for (int q = 0; q < quads; q++) {
            int firstRow = q * QUAD_ROWS;
            if (row == null) {
                ((PackedF32Matrix) source).readRows(firstRow, QUAD_ROWS, quad);
            } else {
                java.util.Arrays.fill(quad, 0f);
                for (int i = 0; i < QUAD_ROWS && firstRow + i < rows; i++) {
                    source.readRow(firstRow + i, row, 0);
                    for (int c = 0; c < cols; c++) quad[c * QUAD_ROWS + i] = row[c];
                }
            }
            for (int i = 0; i < QUAD_ROWS && firstRow + i < rows; i++) {
                float max = 0;
                for (int c = 0; c < cols; c++) {
                    float a = Math.abs(quad[c * QUAD_ROWS + i]);
                    if (!Float.isFinite(a)) throw new IllegalArgumentException("row " + (firstRow + i) + " holds a value that is not finite");
                    max = Math.max(max, a);
                }
                float scale = max / LEVELS;
                scales[firstRow + i] = scale;
                if (scale == 0) continue;
                int base = q * cols * COLUMN_BYTES + i;
                for (int c = 0; c < cols; c++) {
                    int v = Math.round(quad[c * QUAD_ROWS + i] / scale);
                    data.set(ValueLayout.JAVA_BYTE, base + (long) c * COLUMN_BYTES, (byte) Math.max(-127, Math.min(127, v)));
                }
            }
        }
        return new PackedInt8Matrix(data, bytes, scales, rows, cols);
    }

    /** Bytes of the int8 values of a {@code rows x cols} copy (whole quads; the scales live on the heap). */
    public static long bytesFor(int rows, int cols) {
        long bytes = (long) quadsFor(rows) * cols * COLUMN_BYTES;
        if (bytes > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("matrix too large for an int8 copy: " + rows + "x" + cols);
        return bytes;
    }

    /** Whether {@link #approximate} takes eight rows per pass here (32 vector registers), which pays for many rows. */
    public static boolean hasWidePasses() {
        return WIDE_PASSES;
    }

    /**
     * Zeroed, line-aligned memory for copies ({@link #quantize(WeightMatrix, MemorySegment)}): huge pages if the host
     * has them, else ordinary pages; freed once unreachable.
     */
    public static MemorySegment allocate(long bytes) {
        Arena arena = Arena.ofAuto();
        try {
            return HugePageMemory.allocate(bytes, arena);
        } catch (HugePagesUnavailableException e) {
            return arena.allocate(bytes, COLUMN_BYTES);
        }
    }

    @Override
    public int rows() { return rows; }

    @Override
    public int cols() { return cols; }

    @Override
    public TensorType type() { return TensorType.INT8_ROWS; }

    /**
     * The approximate products ({@link #approximate}) of rows [rowStart, rowEnd): each within
     * {@code boundFactor() * scale(r) * sum|x|} of the float32 product of the matrix this was quantized from. A range
     * of whole quads goes straight into {@code out} when its padding fits there; any other through a per-thread
     * buffer, computing the quads it touches.
     */
    @Override
    public void matmul(float[] x, int xOff, int xStride, int batch, float[] out, int outOff, int outStride,
                       int rowStart, int rowEnd) {
        Objects.checkFromToIndex(rowStart, rowEnd, rows);
        if (batch <= 0 || rowStart == rowEnd) return;
        int quadStart = rowStart / QUAD_ROWS;
        int quadEnd = quadsFor(rowEnd);
        int width = paddedRows();
        boolean whole = rowStart == quadStart * QUAD_ROWS && rowEnd == quadEnd * QUAD_ROWS;
        if (whole && outOff >= 0 && (long) outOff + (long) (batch - 1) * outStride + width <= out.length) {
            approximate(x, xOff, xStride, batch, out, outOff, outStride, quadStart, quadEnd);
            return;
        }
        Objects.checkFromIndexSize(outOff, (batch - 1) * outStride + rowEnd, out.length);
        float[] scratch = KernelScratch.get().row(batch * width);
        approximate(x, xOff, xStride, batch, scratch, 0, width, quadStart, quadEnd);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(scratch, b * width + rowStart, out, outOff + b * outStride + rowStart, rowEnd - rowStart);
        }
    }

    /** Row r as the copy holds it: {@code scale(r) * q[r][c]}. */
    @Override
    public void readRow(int r, float[] dst, int dstOff) {
        Objects.checkIndex(r, rows);
        Objects.checkFromIndexSize(dstOff, cols, dst.length);
        long base = (long) (r / QUAD_ROWS) * quadBytes + r % QUAD_ROWS;
        float scale = scales[r];
        for (int c = 0; c < cols; c++) dst[dstOff + c] = scale * data.get(ValueLayout.JAVA_BYTE, base + (long) c * COLUMN_BYTES);
    }

    /** The int8 values, quad by quad (the scales are not in it). */
    @Override
    public MemorySegment segment() { return data.asSlice(0, dataBytes); }

    @Override
    public WeightMatrix withSegment(MemorySegment copy) {
        if (copy.byteSize() != dataBytes) throw new IllegalArgumentException("an int8 copy of " + rows + "x" + cols + " has " + dataBytes + " bytes, got " + copy.byteSize());
        if (copy.address() % COLUMN_BYTES != 0) throw new IllegalArgumentException("an int8 copy needs " + COLUMN_BYTES + "-byte aligned memory");
        return new PackedInt8Matrix(copy, dataBytes, scales, rows, cols);
    }

    /** Rows rounded up to whole quads: the width of an output row of {@link #approximate}. */
    public int paddedRows() { return quads * QUAD_ROWS; }

    public int quads() { return quads; }

    /** The scale of row r (0 for a zero row and for padding). */
    public float scale(int r) { return scales[r]; }

    /** The per-row scales, {@link #paddedRows()} long (padding rows 0): the matrix's own array, not to be written. */
    public float[] scaleArray() { return scales; }

    /** Bytes held: the int8 values and the scales. */
    public long bytes() { return dataBytes + 4L * scales.length; }

    /** K in the bound {@code |approx_r - exact_r| <= K * scale(r) * sum|x|}. */
    public float boundFactor() { return boundFactor; }

    /**
     * For every batch row b in [0, batch) and every row r of quads [quadStart, quadEnd):
     * {@code out[outOff + b*outStride + r] = scale(r) * sum_c q[r][c] * x[xOff + b*xStride + c]} (padding rows get
     * 0). With {@code radius = boundFactor() * sum|x_b|}, each is within {@code radius * scale(r)} of the exact
     * product; {@link #floor} turns a row's outputs into a lower bound of its largest exact product.
     */
    public void approximate(float[] x, int xOff, int xStride, int batch, float[] out, int outOff, int outStride,
                            int quadStart, int quadEnd) {
        Objects.checkFromToIndex(quadStart, quadEnd, quads);
        if (batch <= 0 || quadStart == quadEnd) return;
        Objects.checkFromIndexSize(xOff, (batch - 1) * xStride + cols, x.length);
        Objects.checkFromIndexSize(outOff, (batch - 1) * outStride + paddedRows(), out.length);
        if (batch <= QUAD_PASS_MAX_BATCH) {
            for (int q = quadStart; q < quadEnd; q++) {
                switch (batch) {
                    case 1 -> quad1(q, x, xOff, out, outOff);
                    case 2 -> quad2(q, x, xOff, xStride, out, outOff, outStride);
                    case 3 -> quad3(q, x, xOff, xStride, out, outOff, outStride);
                    default -> quad4(q, x, xOff, xStride, out, outOff, outStride);
                }
            }
            return;
        }
        // Passes as even as they come (16 = 8 + 8, 13 = 6 + 7; without 32 registers 10 = 5 + 5, 6 = 3 + 3).
        int passes = (batch + PASS_ROWS - 1) / PASS_ROWS;
        // Each pass's rows interleaved column by column (xs[c * n + j] for its n rows), so that a column's
        // broadcasts read one pointer at fixed distances: with a pointer per row, address arithmetic, register
        // spills and bounds checks took more issue slots than the conversions and FMAs.
        float[] xs = KernelScratch.get().columns(batch * cols);
        for (int pass = 0, b = 0; pass < passes; pass++) {
            int n = (batch - b) / (passes - pass);
            interleave(x, xOff + b * xStride, xStride, n, xs, b * cols);
            b += n;
        }
        for (int q = quadStart; q < quadEnd; q++) {
            for (int half = 0; half < QUAD; half += 2) {
                for (int pass = 0, b = 0; pass < passes; pass++) {
                    int n = (batch - b) / (passes - pass);
                    int xo = b * cols;
                    int ob = outOff + b * outStride;
                    switch (n) {
                        case 3 -> pair3(q, half, xs, xo, out, ob, outStride);
                        case 4 -> pair4(q, half, xs, xo, out, ob, outStride);
                        case 5 -> pair5(q, half, xs, xo, out, ob, outStride);
                        case 6 -> pair6(q, half, xs, xo, out, ob, outStride);
                        case 7 -> pair7(q, half, xs, xo, out, ob, outStride);
                        default -> pair8(q, half, xs, xo, out, ob, outStride);
                    }
                    b += n;
                }
            }
        }
    }

    /** Rows [x0, x0 + n * xStride) of x interleaved column by column: {@code xs[xo + c * n + j] = x[x0 + j * xStride + c]}. */
    private void interleave(float[] x, int x0, int xStride, int n, float[] xs, int xo) {
        for (int j = 0; j < n; j++) {
            int from = x0 + j * xStride;
            for (int c = 0; c < cols; c++) xs[xo + c * n + j] = x[from + c];
        }
    }

    /** One block's column at byte p, as floats. */
    private FloatVector column(long p) {
        return (FloatVector) ByteVector.fromMemorySegment(B, data, p, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, 0);
    }

    /**
     * One quad times one batch row: four FMA chains over one sequential stream of 64-byte columns. Eight chains ran
     * the head 1.45x faster on one thread in cache, but not in a decode step, where the head streams from memory:
     * even and odd columns apart (which would give a row other bits alone than in a batch), 1.03-1.04x the decode
     * speed; two quads at a time (two streams, each sum in column order), 0.73-0.78x (Zen 5 EPYC, 2 threads).
     */
    private void quad1(int q, float[] x, int x0, float[] out, int o0) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, c0 = z, d0 = z;
        int p = q * quadBytes;
        for (int col = 0; col < cols; col++, p += COLUMN_BYTES) {
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS), wc = column(p + 2 * BLOCK_ROWS), wd = column(p + 3 * BLOCK_ROWS);
            FloatVector v0 = FloatVector.broadcast(F, x[x0 + col]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
        }
        int r = q * QUAD_ROWS;
        a0.mul(FloatVector.fromArray(F, scales, r)).intoArray(out, o0 + r);
        b0.mul(FloatVector.fromArray(F, scales, r + BLOCK_ROWS)).intoArray(out, o0 + r + BLOCK_ROWS);
        c0.mul(FloatVector.fromArray(F, scales, r + 2 * BLOCK_ROWS)).intoArray(out, o0 + r + 2 * BLOCK_ROWS);
        d0.mul(FloatVector.fromArray(F, scales, r + 3 * BLOCK_ROWS)).intoArray(out, o0 + r + 3 * BLOCK_ROWS);
    }

    /** One quad times two batch rows. */
    private void quad2(int q, float[] x, int x0, int xStride, float[] out, int o0, int outStride) {
        int x1 = x0 + xStride;
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z;
        int p = q * quadBytes;
        for (int col = 0; col < cols; col++, p += COLUMN_BYTES) {
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS), wc = column(p + 2 * BLOCK_ROWS), wd = column(p + 3 * BLOCK_ROWS);
            FloatVector v0 = FloatVector.broadcast(F, x[x0 + col]);
            FloatVector v1 = FloatVector.broadcast(F, x[x1 + col]);
            a0 = wa.fma(v0, a0); b0 = wb.fma(v0, b0); c0 = wc.fma(v0, c0); d0 = wd.fma(v0, d0);
            a1 = wa.fma(v1, a1); b1 = wb.fma(v1, b1); c1 = wc.fma(v1, c1); d1 = wd.fma(v1, d1);
        }
        int r = q * QUAD_ROWS;
        a0.mul(FloatVector.fromArray(F, scales, r)).intoArray(out, o0 + r);
        b0.mul(FloatVector.fromArray(F, scales, r + BLOCK_ROWS)).intoArray(out, o0 + r + BLOCK_ROWS);
        c0.mul(FloatVector.fromArray(F, scales, r + 2 * BLOCK_ROWS)).intoArray(out, o0 + r + 2 * BLOCK_ROWS);
        d0.mul(FloatVector.fromArray(F, scales, r + 3 * BLOCK_ROWS)).intoArray(out, o0 + r + 3 * BLOCK_ROWS);
        a1.mul(FloatVector.fromArray(F, scales, r)).intoArray(out, o0 + outStride + r);
        b1.mul(FloatVector.fromArray(F, scales, r + BLOCK_ROWS)).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        c1.mul(FloatVector.fromArray(F, scales, r + 2 * BLOCK_ROWS)).intoArray(out, o0 + outStride + r + 2 * BLOCK_ROWS);
        d1.mul(FloatVector.fromArray(F, scales, r + 3 * BLOCK_ROWS)).intoArray(out, o0 + outStride + r + 3 * BLOCK_ROWS);
    }

    /** One quad times three batch rows (32 vector registers): twelve FMA chains, each column converted once for the three. */
    private void quad3(int q, float[] x, int x0, int xStride, float[] out, int o0, int outStride) {
        int x1 = x0 + xStride, x2 = x1 + xStride;
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z;
        int p = q * quadBytes;
        for (int col = 0; col < cols; col++, p += COLUMN_BYTES) {
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS), wc = column(p + 2 * BLOCK_ROWS), wd = column(p + 3 * BLOCK_ROWS);
            FloatVector v = FloatVector.broadcast(F, x[x0 + col]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = FloatVector.broadcast(F, x[x1 + col]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = FloatVector.broadcast(F, x[x2 + col]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
        }
        int r = q * QUAD_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        FloatVector sc = FloatVector.fromArray(F, scales, r + 2 * BLOCK_ROWS), sd = FloatVector.fromArray(F, scales, r + 3 * BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r); b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        c0.mul(sc).intoArray(out, o0 + r + 2 * BLOCK_ROWS); d0.mul(sd).intoArray(out, o0 + r + 3 * BLOCK_ROWS);
        int o1 = o0 + outStride;
        a1.mul(sa).intoArray(out, o1 + r); b1.mul(sb).intoArray(out, o1 + r + BLOCK_ROWS);
        c1.mul(sc).intoArray(out, o1 + r + 2 * BLOCK_ROWS); d1.mul(sd).intoArray(out, o1 + r + 3 * BLOCK_ROWS);
        int o2 = o1 + outStride;
        a2.mul(sa).intoArray(out, o2 + r); b2.mul(sb).intoArray(out, o2 + r + BLOCK_ROWS);
        c2.mul(sc).intoArray(out, o2 + r + 2 * BLOCK_ROWS); d2.mul(sd).intoArray(out, o2 + r + 3 * BLOCK_ROWS);
    }

    /** One quad times four batch rows (32 vector registers): sixteen FMA chains. */
    private void quad4(int q, float[] x, int x0, int xStride, float[] out, int o0, int outStride) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, c0 = z, d0 = z, a1 = z, b1 = z, c1 = z, d1 = z, a2 = z, b2 = z, c2 = z, d2 = z,
                a3 = z, b3 = z, c3 = z, d3 = z;
        int p = q * quadBytes;
        for (int col = 0; col < cols; col++, p += COLUMN_BYTES) {
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS), wc = column(p + 2 * BLOCK_ROWS), wd = column(p + 3 * BLOCK_ROWS);
            FloatVector v = FloatVector.broadcast(F, x[x0 + col]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0); c0 = wc.fma(v, c0); d0 = wd.fma(v, d0);
            v = FloatVector.broadcast(F, x[x1 + col]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1); c1 = wc.fma(v, c1); d1 = wd.fma(v, d1);
            v = FloatVector.broadcast(F, x[x2 + col]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2); c2 = wc.fma(v, c2); d2 = wd.fma(v, d2);
            v = FloatVector.broadcast(F, x[x3 + col]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3); c3 = wc.fma(v, c3); d3 = wd.fma(v, d3);
        }
        int r = q * QUAD_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        FloatVector sc = FloatVector.fromArray(F, scales, r + 2 * BLOCK_ROWS), sd = FloatVector.fromArray(F, scales, r + 3 * BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r); b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        c0.mul(sc).intoArray(out, o0 + r + 2 * BLOCK_ROWS); d0.mul(sd).intoArray(out, o0 + r + 3 * BLOCK_ROWS);
        int o1 = o0 + outStride;
        a1.mul(sa).intoArray(out, o1 + r); b1.mul(sb).intoArray(out, o1 + r + BLOCK_ROWS);
        c1.mul(sc).intoArray(out, o1 + r + 2 * BLOCK_ROWS); d1.mul(sd).intoArray(out, o1 + r + 3 * BLOCK_ROWS);
        int o2 = o1 + outStride;
        a2.mul(sa).intoArray(out, o2 + r); b2.mul(sb).intoArray(out, o2 + r + BLOCK_ROWS);
        c2.mul(sc).intoArray(out, o2 + r + 2 * BLOCK_ROWS); d2.mul(sd).intoArray(out, o2 + r + 3 * BLOCK_ROWS);
        int o3 = o2 + outStride;
        a3.mul(sa).intoArray(out, o3 + r); b3.mul(sb).intoArray(out, o3 + r + BLOCK_ROWS);
        c3.mul(sc).intoArray(out, o3 + r + 2 * BLOCK_ROWS); d3.mul(sd).intoArray(out, o3 + r + 3 * BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 3 batch rows, their x interleaved at xs[xo + c * 3 + j]. */
    private void pair3(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 3;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 4 batch rows, their x interleaved at xs[xo + c * 4 + j]. */
    private void pair4(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 4;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[i + 3]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
        a3.mul(sa).intoArray(out, o0 + 3 * outStride + r);
        b3.mul(sb).intoArray(out, o0 + 3 * outStride + r + BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 5 batch rows, their x interleaved at xs[xo + c * 5 + j]. */
    private void pair5(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 5;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[i + 3]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[i + 4]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
        a3.mul(sa).intoArray(out, o0 + 3 * outStride + r);
        b3.mul(sb).intoArray(out, o0 + 3 * outStride + r + BLOCK_ROWS);
        a4.mul(sa).intoArray(out, o0 + 4 * outStride + r);
        b4.mul(sb).intoArray(out, o0 + 4 * outStride + r + BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 6 batch rows (32 registers only), their x interleaved at xs[xo + c * 6 + j]. */
    private void pair6(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 6;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[i + 3]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[i + 4]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, xs[i + 5]);
            a5 = wa.fma(v, a5); b5 = wb.fma(v, b5);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
        a3.mul(sa).intoArray(out, o0 + 3 * outStride + r);
        b3.mul(sb).intoArray(out, o0 + 3 * outStride + r + BLOCK_ROWS);
        a4.mul(sa).intoArray(out, o0 + 4 * outStride + r);
        b4.mul(sb).intoArray(out, o0 + 4 * outStride + r + BLOCK_ROWS);
        a5.mul(sa).intoArray(out, o0 + 5 * outStride + r);
        b5.mul(sb).intoArray(out, o0 + 5 * outStride + r + BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 7 batch rows (32 registers only), their x interleaved at xs[xo + c * 7 + j]. */
    private void pair7(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z, a6 = z, b6 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 7;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[i + 3]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[i + 4]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, xs[i + 5]);
            a5 = wa.fma(v, a5); b5 = wb.fma(v, b5);
            v = FloatVector.broadcast(F, xs[i + 6]);
            a6 = wa.fma(v, a6); b6 = wb.fma(v, b6);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
        a3.mul(sa).intoArray(out, o0 + 3 * outStride + r);
        b3.mul(sb).intoArray(out, o0 + 3 * outStride + r + BLOCK_ROWS);
        a4.mul(sa).intoArray(out, o0 + 4 * outStride + r);
        b4.mul(sb).intoArray(out, o0 + 4 * outStride + r + BLOCK_ROWS);
        a5.mul(sa).intoArray(out, o0 + 5 * outStride + r);
        b5.mul(sb).intoArray(out, o0 + 5 * outStride + r + BLOCK_ROWS);
        a6.mul(sa).intoArray(out, o0 + 6 * outStride + r);
        b6.mul(sb).intoArray(out, o0 + 6 * outStride + r + BLOCK_ROWS);
    }

    /** Blocks [half, half + 2) of quad q times 8 batch rows (32 registers only), their x interleaved at xs[xo + c * 8 + j]. */
    private void pair8(int q, int half, float[] xs, int xo, float[] out, int o0, int outStride) {
        FloatVector z = FloatVector.zero(F), a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z, a6 = z, b6 = z, a7 = z, b7 = z;
        long base = (long) q * quadBytes + half * BLOCK_ROWS;
        for (int col = 0; col < cols; col++) {
            long p = base + (long) col * COLUMN_BYTES;
            FloatVector wa = column(p), wb = column(p + BLOCK_ROWS);
            int i = xo + col * 8;
            FloatVector v = FloatVector.broadcast(F, xs[i]);
            a0 = wa.fma(v, a0); b0 = wb.fma(v, b0);
            v = FloatVector.broadcast(F, xs[i + 1]);
            a1 = wa.fma(v, a1); b1 = wb.fma(v, b1);
            v = FloatVector.broadcast(F, xs[i + 2]);
            a2 = wa.fma(v, a2); b2 = wb.fma(v, b2);
            v = FloatVector.broadcast(F, xs[i + 3]);
            a3 = wa.fma(v, a3); b3 = wb.fma(v, b3);
            v = FloatVector.broadcast(F, xs[i + 4]);
            a4 = wa.fma(v, a4); b4 = wb.fma(v, b4);
            v = FloatVector.broadcast(F, xs[i + 5]);
            a5 = wa.fma(v, a5); b5 = wb.fma(v, b5);
            v = FloatVector.broadcast(F, xs[i + 6]);
            a6 = wa.fma(v, a6); b6 = wb.fma(v, b6);
            v = FloatVector.broadcast(F, xs[i + 7]);
            a7 = wa.fma(v, a7); b7 = wb.fma(v, b7);
        }
        int r = q * QUAD_ROWS + half * BLOCK_ROWS;
        FloatVector sa = FloatVector.fromArray(F, scales, r), sb = FloatVector.fromArray(F, scales, r + BLOCK_ROWS);
        a0.mul(sa).intoArray(out, o0 + r);
        b0.mul(sb).intoArray(out, o0 + r + BLOCK_ROWS);
        a1.mul(sa).intoArray(out, o0 + outStride + r);
        b1.mul(sb).intoArray(out, o0 + outStride + r + BLOCK_ROWS);
        a2.mul(sa).intoArray(out, o0 + 2 * outStride + r);
        b2.mul(sb).intoArray(out, o0 + 2 * outStride + r + BLOCK_ROWS);
        a3.mul(sa).intoArray(out, o0 + 3 * outStride + r);
        b3.mul(sb).intoArray(out, o0 + 3 * outStride + r + BLOCK_ROWS);
        a4.mul(sa).intoArray(out, o0 + 4 * outStride + r);
        b4.mul(sb).intoArray(out, o0 + 4 * outStride + r + BLOCK_ROWS);
        a5.mul(sa).intoArray(out, o0 + 5 * outStride + r);
        b5.mul(sb).intoArray(out, o0 + 5 * outStride + r + BLOCK_ROWS);
        a6.mul(sa).intoArray(out, o0 + 6 * outStride + r);
        b6.mul(sb).intoArray(out, o0 + 6 * outStride + r + BLOCK_ROWS);
        a7.mul(sa).intoArray(out, o0 + 7 * outStride + r);
        b7.mul(sb).intoArray(out, o0 + 7 * outStride + r + BLOCK_ROWS);
    }

    /**
     * The largest lower bound {@code out[off + r] - radius * scale(r)} over the real rows r of a whole output row of
     * {@link #approximate} (padding rows, scale 0 and sum 0, would give 0, which may exceed every real row's): with
     * {@code radius = boundFactor() * sum|x|}, a lower bound of the row's largest exact product. NaN or infinite when
     * the row's values are.
     */
    public float floor(float[] out, int off, float radius) {
        Objects.checkFromIndexSize(off, rows, out.length);
        FloatVector k = FloatVector.broadcast(F, -radius);
        FloatVector best = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int r = 0;
        for (int upper = F.loopBound(rows); r < upper; r += F.length()) {
            best = best.max(FloatVector.fromArray(F, scales, r).fma(k, FloatVector.fromArray(F, out, off + r)));
        }
        float floor = best.reduceLanes(VectorOperators.MAX);
        for (; r < rows; r++) floor = Math.max(floor, Math.fma(scales[r], -radius, out[off + r]));
        return floor;
    }
}
