package dev.tandem.engine.llama;

import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.parallel.ChunkTask;
import dev.tandem.engine.tensor.PackedF32Matrix;
import dev.tandem.engine.tensor.PackedInt8Matrix;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import dev.tandem.engine.parallel.WarmUpScheduling;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The greedy token of a row without the whole float32 output head. Decoding one token streams every weight once,
 * and stories15M's head (32,000 x 288 float32, 37 MB) is most of them and does not fit the last-level cache. A
 * row that only needs its greedy token goes instead through an int8 copy of the head ({@link PackedInt8Matrix},
 * 9 MB), whose logits are each within a proven bound of the float32 ones; the rows whose bound reaches the best
 * lower bound are the only candidates for the float32 argmax, and only they are computed again with the float32
 * head itself, one matrix row each, by the same kernel as the full product (whose result does not depend on the
 * rows around it). So the token is exactly the float32 argmax, ties to the lowest id included, and usually a
 * handful of rows are recomputed. When more than {@link #MAX_CANDIDATES} rows are candidates, or the row is not
 * finite, the caller falls back to the full product.
 *
 * <p>Only for float32 heads: other types' kernels quantize the activations too, which the bound does not cover.
 * One int8 copy per head matrix per JVM ({@link #forHead}). Not thread-safe: one per stage.
 */
public final class GreedyHead {

    /** Most rows recomputed in float32 for a greedy token before the full product is cheaper to run than to avoid. */
    public static final int MAX_CANDIDATES = 64;
    /** The same for a row that wants its top k exactly (recorded traffic: k = 32 gives ~50-150 candidates). */
    public static final int MAX_TOP_CANDIDATES = 512;
    /**
     * Most rows screened in one call. The screen trades the head's memory traffic for int8-to-float conversions; a
     * batch of many rows reads the float32 head once for all of them and is bound by its multiply-adds. With the
     * screen's wide passes (32 vector registers: a conversion feeds eight rows) the int8 product of 16 rows still
     * costs less than the float32 one: bench engine's 16 sequences ran at 3.47-3.56x one stream against 3.09-3.36x
     * with at most 8 rows screened (three alternating runs, 2-core AVX-512 Xeon). Without them a conversion feeds at
     * most five rows and 16 rows measured slower screened (batch16 1991-2154 against 2336-2579 tok/s, AVX2 EPYC),
     * 4 faster (1557-1903 against 1321-1423). Past this many rows the full product runs (the approximations take
     * 128 KB per row on stories15M).
     */
    public static final int MAX_ROWS = PackedInt8Matrix.hasWidePasses() ? 64 : 8;
    /**
     * Most top-k rows screened in one call: settling one costs a k-th bound, ~50-150 candidates and a logits row to
     * write, so one or two beat the full product (one thread: 1.56 against 1.86 ms for one row), five do not (4.27
     * against 3.15 ms; greedy tokens 3.19).
     */
    public static final int MAX_TOP_ROWS = 2;
    /** Smallest head worth screening: below it the full product is cheap anyway. */
    public static final int MIN_ROWS = 4096;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final Map<WeightMatrix, PackedInt8Matrix> COPIES = new WeakHashMap<>();
    /** Quads per warm-up call, and the time under which such a call counts as compiled code (interpreted: ms). */
    private static final int WARM_UP_QUADS = 8;
    /**
     * Row counts of the warm-up's calls, so that each multi-row pass (three, four and five rows, and eight with
     * wide passes) is compiled. A verification of two or more drafts runs them; left to the traffic they were
     * compiled only after such steps had run slow, and a cluster's draft-length controller, having measured a
     * three-row step at 15-19 ms against 4-7 ms for one row, kept away from them.
     */
    private static final int[] WARM_UP_ROWS = {1, 2, 3, 4, 5, 8};
    private static final long COMPILED_CALL_NANOS = 100_000;
    /** Warm-up's top k (as recorded traffic asks for), and the rows of its made-up row that stand out. */
    private static final int WARM_UP_TOP_K = 32;
    private static final int WARM_UP_PEAKS = 40;
    /** Warm-up gives up (and lets the screen be used anyway) after this long. */
    private static final long WARM_UP_LIMIT_NANOS = 20_000_000_000L;
    private static final CountDownLatch WARM = new CountDownLatch(1);
    private static final AtomicBoolean WARM_UP_STARTED = new AtomicBoolean();

    private final WeightMatrix head;
    /**
     * The head when packed (the resident copy): its candidates are computed one row at a time, which also keeps
     * these single-row calls out of the profile the JIT compiles the head's batch kernels from.
     */
    private final PackedF32Matrix packedHead;
    private final PackedInt8Matrix screen;
    private final int rows;
    private final int cols;
    private final ProductSection productSection = new ProductSection();
    private final SelectSection selectSection = new SelectSection();
    /** Per screened row: its candidate rows (ascending) and their float32 logits. */
    private int[][] candidates = new int[0][];
    private float[][] candidateLogits = new float[0][];
    /** Per thread: a whole logits row for a row-major head's kernels (they write out[r]); the k best lower bounds. */
    private float[][] exact = new float[0][];
    private float[][] best = new float[0][];
    /** Per screened row: 0 for its greedy token only, k for its top k exactly (see {@link RowOutput#TOP_LOGITS}). */
    private int[] topK = new int[0];
    /** Per screened row and quad row: the approximate logits. */
    private float[] approx = new float[0];
    /** Per screened row: boundFactor * sum|x| (NaN when the row is not finite). */
    private float[] radius = new float[0];
    private int[] tokens = new int[0];
    private int[] candidateCounts = new int[0];
    // The current call, read by the sections.
    private float[] x;
    private int xOff;
    private int count;

    private GreedyHead(WeightMatrix head, PackedInt8Matrix screen) {
        this.head = head;
        this.packedHead = head instanceof PackedF32Matrix p ? p : null;
        this.screen = screen;
        this.rows = head.rows();
        this.cols = head.cols();
    }

    /** Whether a head of this type and size gets a screen. */
    public static boolean applies(WeightMatrix head) {
        return head.type() == TensorType.F32 && head.rows() >= MIN_ROWS;
    }

    /** A greedy head over {@code head} (see {@link #applies}); the int8 copy is made once per matrix and shared. */
    public static GreedyHead forHead(WeightMatrix head) {
        if (!applies(head)) throw new IllegalArgumentException("no int8 screen for a " + head.type() + " head of " + head.rows() + " rows");
        PackedInt8Matrix screen;
        synchronized (COPIES) {
            screen = COPIES.computeIfAbsent(head, PackedInt8Matrix::quantize);
        }
        if (WARM_UP_STARTED.compareAndSet(false, true)) startWarmUp(head, screen);
        return new GreedyHead(head, screen);
    }

    /**
     * Whether the screen's kernels run compiled yet. Until then a stage takes the full product: the Vector API runs
     * orders of magnitude slower interpreted, and a first request would otherwise wait for the JIT (a one-shot
     * {@code generate --local} measured ~0.4 s more to its first token).
     */
    public static boolean warm() {
        return WARM.getCount() == 0;
    }

    /** Waits until {@link #warm()}; false when {@code timeout} passes first. */
    public static boolean awaitWarm(Duration timeout) throws InterruptedException {
        return WARM.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * Runs the kernels ({@link #WARM_UP_ROWS} rows) on zeros, and the selection of a row's candidates on a
     * made-up row, on a daemon thread until every call takes compiled-code time, so that the JIT compiles them off
     * the serving path: in the idle CPU class first, in the normal class after a second ({@link WarmUpScheduling}).
     * The selection matters as much as the product: it runs once per screened row, so left to the traffic it
     * stayed interpreted for the first hundreds of steps, its vector loops over the 32,000 approximations taking
     * ~10 ms a row (one-thread forwards of a greedy row at 9-13 ms against 2 ms in 5 of 9 runs of
     * {@code ForwardCpuBenchmark}, on a 2-core AVX-512 Xeon).
     */
    private static void startWarmUp(WeightMatrix head, PackedInt8Matrix screen) {
        GreedyHead probe = new GreedyHead(head, screen);
        Thread t = new Thread(() -> {
            try {
                WarmUpScheduling scheduling = WarmUpScheduling.enter();
                int cols = screen.cols();
                int most = Arrays.stream(WARM_UP_ROWS).max().orElseThrow();
                float[] x = new float[most * cols];
                float[] out = new float[most * screen.paddedRows()];
                int quads = Math.min(WARM_UP_QUADS, screen.quads());
                long start = System.nanoTime();
                int compiledInARow = 0;
                while (compiledInARow < 3 && System.nanoTime() - start < WARM_UP_LIMIT_NANOS) {
                    scheduling.check();
                    boolean compiled = true;
                    for (int rows : WARM_UP_ROWS) {
                        long t0 = System.nanoTime();
                        screen.approximate(x, 0, cols, rows, out, 0, screen.paddedRows(), 0, quads);
                        // One or two rows in compiled-code time; more rows a share of it each.
                        compiled &= System.nanoTime() - t0 < Math.max(2, rows) * COMPILED_CALL_NANOS / 2;
                    }
                    for (int top : new int[] {0, WARM_UP_TOP_K}) {
                        long t0 = System.nanoTime();
                        probe.selectMadeUpRow(x, top);
                        compiled &= System.nanoTime() - t0 < COMPILED_CALL_NANOS;
                    }
                    compiledInARow = compiled ? compiledInARow + 1 : 0;
                }
            } finally {
                WARM.countDown();
            }
        }, "tandem-greedy-screen-warm-up");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Warm-up: settles one made-up row of approximations, as {@link #run} does a real one ({@code top} 0: its greedy
     * token; else its top {@code top}): every value zero except {@link #WARM_UP_PEAKS} rows spread over the head, so
     * that the floor, the gathering and the float32 recomputation each do their usual work.
     */
    private void selectMadeUpRow(float[] zeros, int top) {
        fitRows(1);
        fitThreads(1, WARM_UP_TOP_K);
        int step = rows / WARM_UP_PEAKS;
        for (int j = 0; j < WARM_UP_PEAKS; j++) approx[j * step] = 1f + j * 1e-3f;
        radius[0] = 1e-3f;
        topK[0] = top;
        x = zeros;
        xOff = 0;
        count = 1;
        try {
            select(0, 0);
        } finally {
            x = null;
        }
    }

    public PackedInt8Matrix screen() { return screen; }

    /**
     * Finds the greedy tokens of {@code count} rows of {@code x} (rows of {@code cols} floats from {@code xOff}):
     * the int8 product with each row's best lower bound over {@code runner}, then, rows split over the same
     * threads, each row's candidates and their float32 logits. Read the results with {@link #token}.
     */
    public void run(ParallelRunner runner, float[] x, int xOff, int count) {
        run(runner, x, xOff, count, null);
    }

    /**
     * As {@link #run(ParallelRunner, float[], int, int)}; row i with {@code tops[i] = k > 0} also gets its top k
     * exactly, for {@link #writeLogits} ({@code tops} null: greedy tokens only).
     */
    public void run(ParallelRunner runner, float[] x, int xOff, int count, int[] tops) {
        fitRows(count);
        int most = 1;
        for (int i = 0; i < count; i++) {
            topK[i] = tops == null ? 0 : Math.max(0, tops[i]);
            most = Math.max(most, topK[i]);
        }
        fitThreads(runner.threads(), most);
        for (int i = 0; i < count; i++) {
            float absSum = 0;
            int in = xOff + i * cols;
            for (int c = 0; c < cols; c++) absSum += Math.abs(x[in + c]);
            // A row that is not finite gets no bound, and no token: the caller computes its logits.
            radius[i] = Float.isFinite(absSum) ? screen.boundFactor() * absSum : Float.NaN;
        }
        this.x = x;
        this.xOff = xOff;
        this.count = count;
        try {
            runner.forChunks(screen.quads(), 1, productSection);
            runner.forChunks(count, 1, selectSection);
        } finally {
            this.x = null;
        }
    }

    /** Sizes the per-row buffers for {@code count} screened rows. */
    private void fitRows(int count) {
        int padded = screen.paddedRows();
        if (approx.length < count * padded) approx = new float[count * padded];
        if (radius.length < count) {
            radius = new float[count];
            tokens = new int[count];
            candidateCounts = new int[count];
            topK = new int[count];
            candidates = new int[count][MAX_TOP_CANDIDATES];
            candidateLogits = new float[count][MAX_TOP_CANDIDATES];
        }
    }

    /** Sizes the per-thread buffers for {@code threads} threads and a top k of at most {@code most}. */
    private void fitThreads(int threads, int most) {
        if (best.length < threads || best[0].length < most) {
            // A packed head computes a candidate with rowDot; others write it at its index of a whole logits row.
            exact = new float[threads][packedHead != null ? 0 : rows];
            best = new float[threads][most];
        }
    }

    /**
     * Writes row i's logits (a row run with a top k, settled: {@code token(i) >= 0}) into {@code dst[off .. off +
     * rows)}: its candidates' float32 logits, which include its top k, and every other row's int8 approximation,
     * within the bound of its float32 logit and below the k-th largest.
     */
    public void writeLogits(int i, float[] dst, int off) {
        if (topK[i] == 0 || tokens[i] < 0) throw new IllegalStateException("row " + i + " has no screened logits");
        System.arraycopy(approx, i * screen.paddedRows(), dst, off, rows);
        int[] found = candidates[i];
        float[] values = candidateLogits[i];
        for (int j = 0; j < candidateCounts[i]; j++) dst[off + found[j]] = values[j];
    }

    /**
     * The float32 argmax of row {@code i} of the last {@link #run}, or -1 when the screen could not settle it
     * (more than {@link #MAX_CANDIDATES} candidates, or values that are not finite): then the caller computes the
     * row's logits.
     */
    public int token(int i) {
        return tokens[i];
    }

    /** Rows recomputed in float32 for row {@code i} of the last {@link #run}, or -1 when it gave up. */
    public int candidates(int i) {
        return candidateCounts[i];
    }

    /**
     * Settles row i on thread {@code thread}: its candidates (every row whose upper bound reaches the best lower
     * bound, or for a top k the k-th best: at least k rows have logits above it, so each of the top k has an upper
     * bound above it too), then their float32 logits.
     */
    private void select(int thread, int i) {
        tokens[i] = -1;
        candidateCounts[i] = -1;
        float k = radius[i];
        if (!Float.isFinite(k)) return;
        int a0 = i * screen.paddedRows();
        float floor = topK[i] > 1 ? kthLowerBound(a0, k, topK[i], best[thread]) : screen.floor(approx, a0, k);
        if (!Float.isFinite(floor)) return;
        int[] found = candidates[i];
        int n = gather(a0, k, floor, found, topK[i] > 0 ? MAX_TOP_CANDIDATES : MAX_CANDIDATES);
        if (n < 0) return;
        float[] values = candidateLogits[i];
        float[] logit = exact[thread];
        int in = xOff + i * cols;
        int bestRow = -1;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            int r = found[j];
            float value;
            if (packedHead != null) {
                value = packedHead.rowDot(r, x, in);
            } else {
                head.matmul(x, in, cols, 1, logit, 0, rows, r, r + 1);
                value = logit[r];
            }
            values[j] = value;
            if (bestRow < 0 || value > bestValue) { // ascending rows: ties keep the lowest id
                bestRow = r;
                bestValue = value;
            }
        }
        if (!Float.isFinite(bestValue)) return;
        tokens[i] = bestRow;
        candidateCounts[i] = n;
    }

    /** The k-th largest lower bound approx_r - k * s_r over the real rows (-infinity when there are fewer). */
    private float kthLowerBound(int a0, float radius, int k, float[] top) {
        float[] scales = screen.scaleArray();
        Arrays.fill(top, 0, k, Float.NEGATIVE_INFINITY); // descending; top[k - 1] is the k-th
        FloatVector kv = FloatVector.broadcast(F, radius);
        int r = 0;
        int upper = F.loopBound(rows);
        for (; r < upper; r += F.length()) {
            FloatVector low = FloatVector.fromArray(F, approx, a0 + r).sub(FloatVector.fromArray(F, scales, r).mul(kv));
            VectorMask<Float> above = low.compare(VectorOperators.GT, top[k - 1]);
            if (!above.anyTrue()) continue;
            long bits = above.toLong();
            while (bits != 0) {
                int lane = Long.numberOfTrailingZeros(bits);
                insert(top, k, low.lane(lane));
                bits &= bits - 1;
            }
        }
        for (; r < rows; r++) insert(top, k, approx[a0 + r] - scales[r] * radius);
        return top[k - 1];
    }

    private static void insert(float[] top, int k, float v) {
        if (!(v > top[k - 1])) return;
        int at = k - 1;
        while (at > 0 && top[at - 1] < v) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = v;
    }

    /** Rows whose upper bound approx_r + k * s_r reaches {@code floor}, ascending, into found; -1 past {@code limit}. */
    private int gather(int a0, float k, float floor, int[] found, int limit) {
        float[] scales = screen.scaleArray();
        FloatVector kv = FloatVector.broadcast(F, k);
        int n = 0;
        int r = 0;
        int upper = F.loopBound(rows);
        for (; r < upper; r += F.length()) {
            FloatVector high = FloatVector.fromArray(F, approx, a0 + r).add(FloatVector.fromArray(F, scales, r).mul(kv));
            VectorMask<Float> reach = high.compare(VectorOperators.GE, floor);
            if (!reach.anyTrue()) continue;
            long bits = reach.toLong();
            while (bits != 0) {
                if (n == limit) return -1;
                found[n++] = r + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
            }
        }
        for (; r < rows; r++) {
            if (approx[a0 + r] + scales[r] * k >= floor) {
                if (n == limit) return -1;
                found[n++] = r;
            }
        }
        return n;
    }

    /** The int8 product over a range of quads for every screened row. */
    private final class ProductSection implements ChunkTask {
        @Override
        public void run(int thread, int start, int end) {
            screen.approximate(x, xOff, cols, count, approx, 0, screen.paddedRows(), start, end);
        }
    }

    /** The selection of a range of screened rows. */
    private final class SelectSection implements ChunkTask {
        @Override
        public void run(int thread, int start, int end) {
            for (int i = start; i < end; i++) select(thread, i);
        }
    }
}
