package dev.tandem.engine.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool for the fork-join sections of a forward pass. The calling thread works too, next to
 * {@code threads - 1} workers. Hand-off is a volatile generation counter: workers spin on it briefly (a decode
 * step has ~30 sections a few microseconds apart) and park only when idle for longer, so a section costs a
 * few microseconds rather than the tens of an executor. Nothing is allocated per call.
 *
 * <p>The range is cut into {@link #PIECES_PER_THREAD} contiguous pieces per thread, aligned to the grain,
 * which the threads claim from a shared counter. A section ends when all its pieces are done, not when every
 * worker has checked in: on a shared machine a descheduled worker neither stalls the caller nor leaves work
 * behind, the caller simply claims the remaining pieces itself.
 *
 * <p>One caller at a time: a runner belongs to one stage (one actor), which calls it from one thread at a time.
 */
public final class ParallelRunner implements AutoCloseable {

    /**
     * Default piece boundaries are multiples of this many indices (rows): a quad of the packed float32 layout
     * ({@link dev.tandem.engine.tensor.PackedF32Matrix}, four 16-row blocks). At 16, a thread's piece of a 288-row
     * matrix was 2 or 3 blocks, run by the 1- and 2-block kernels whose few independent sums cannot hide the FMA
     * latency: 2-thread decode measured 380-406 against 562-600 tok/s before packing; at 64 it is 589-600 against
     * 547-579 (bench engine, alternating runs).
     */
    public static final int DEFAULT_GRAIN = 64;
    /**
     * Pieces per thread: enough to rebalance around a stalled thread, few enough to keep claims cheap. At 8 rather
     * than 4, a 864-row Q/K/V section splits into 14 pieces of 64 rows (7 each) instead of 7 of 128 (4 against 3):
     * whole forwards measured 0.96-0.99x the time for decode, verifying 5 tokens, 4 and 16 sequences (median pair
     * ratios of two rounds, both builds alternating in one JVM, 2-core AVX2 EPYC).
     */
    public static final int PIECES_PER_THREAD = 8;
    /** How long an idle thread spins before it parks; longer than the gap between two sections of a step. */
    private static final long SPIN_NANOS = 100_000;
    /** Spin iterations between two clock reads. */
    private static final int SPINS_PER_CLOCK_READ = 64;
    private static final int GENERATION_SHIFT = 32;
    private static final int COUNT_SHIFT = 16;
    private static final long FIELD_MASK = 0xFFFF;
    /** Pieces fit the 16-bit fields of the claim word. */
    private static final int MAX_PIECES = (int) FIELD_MASK;

    private final int threads;
    private final Runnable workerSetUp;
    private final Worker[] workers;
    /**
     * The claim word: the section's generation (upper 32 bits), its piece count (16 bits) and its next
     * unclaimed piece (lower 16 bits). Claims are decided on this word alone, so a worker that is late for
     * a section can never claim a piece of a section whose fields it has not seen.
     */
    private final AtomicLong claims = new AtomicLong();
    private final AtomicInteger completed = new AtomicInteger();

    private volatile long generation;
    private volatile boolean closed;
    private volatile boolean callerParked;
    private volatile Thread caller;
    private volatile Throwable failure;

    // The current section, written by the caller before it publishes a new generation; stable until all
    // of its pieces are complete, and read by a worker only after it has claimed one of them.
    private RangeTask rangeTask;
    private ChunkTask chunkTask;
    private int size;
    private int pieceSize;
    private int pieceCount;

    public ParallelRunner() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public ParallelRunner(int threads) {
        this(threads, () -> {});
    }

    /**
     * A runner whose worker threads first run {@code workerSetUp} (e.g. {@link BackgroundScheduling#enterIdleClass}
     * for a background pool, so that its workers sit in the same scheduling class as the caller).
     */
    public ParallelRunner(int threads, Runnable workerSetUp) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workerSetUp = workerSetUp;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
    }

    /** Number of threads that work on a section, the caller included. */
    public int threads() { return threads; }

    /** Runs {@code task} over [0, n) in contiguous pieces with boundaries at multiples of {@link #DEFAULT_GRAIN}. */
    public void forRange(int n, RangeTask task) {
        forRange(n, DEFAULT_GRAIN, task);
    }

    /** Runs {@code task} over [0, n) in contiguous pieces with boundaries at multiples of {@code grain}; returns when all are done. */
    public void forRange(int n, int grain, RangeTask task) {
        run(n, grain, task, null);
    }

    /** Like {@link #forRange(int, int, RangeTask)}, passing each piece the index in [0, threads) of the thread that runs it. */
    public void forChunks(int n, int grain, ChunkTask task) {
        run(n, grain, null, task);
    }

    private void run(int n, int grain, RangeTask range, ChunkTask chunk) {
        if (n <= 0) return;
        if (closed) throw new IllegalStateException("parallel runner is closed");
        if (grain < 1) throw new IllegalArgumentException("grain must be >= 1, got " + grain);
        int units = (n + grain - 1) / grain;
        if (workers.length == 0 || units == 1) {
            if (range != null) range.run(0, n); else chunk.run(0, 0, n);
            return;
        }
        int pieces = Math.min(Math.min(units, threads * PIECES_PER_THREAD), MAX_PIECES);
        int unitsPerPiece = (units + pieces - 1) / pieces;
        this.rangeTask = range;
        this.chunkTask = chunk;
        this.size = n;
        this.pieceSize = unitsPerPiece * grain;
        this.pieceCount = (units + unitsPerPiece - 1) / unitsPerPiece;
        this.caller = Thread.currentThread();
        long g = generation + 1;
        completed.set(0);
        claims.set(g << GENERATION_SHIFT | (long) pieceCount << COUNT_SHIFT);
        generation = g; // publishes the fields above
        for (Worker w : workers) {
            if (w.parked) LockSupport.unpark(w);
        }
        runPieces(0, g);
        awaitCompletion();
        this.rangeTask = null;
        this.chunkTask = null;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error e) throw e;
            throw new IllegalStateException("parallel section failed", f);
        }
    }

    /** Claims and runs pieces of generation {@code g} until none is left; {@code thread} is 0 for the caller. */
    private void runPieces(int thread, long g) {
        while (true) {
            long c = claims.get();
            if (c >>> GENERATION_SHIFT != (g & 0xFFFF_FFFFL)) return; // a later section already started
            int count = (int) (c >>> COUNT_SHIFT & FIELD_MASK);
            int piece = (int) (c & FIELD_MASK);
            if (piece >= count) return;
            if (!claims.compareAndSet(c, c + 1)) continue;
            // The claim succeeded, so the caller is still in this section and its fields are stable.
            try {
                int start = piece * pieceSize;
                int end = Math.min(size, start + pieceSize);
                RangeTask range = rangeTask;
                if (range != null) range.run(start, end); else chunkTask.run(thread, start, end);
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (completed.incrementAndGet() == count && callerParked) LockSupport.unpark(caller);
            }
        }
    }

    private void awaitCompletion() {
        int total = pieceCount;
        long spinStart = System.nanoTime();
        int spins = 0;
        while (completed.get() != total) {
            Thread.onSpinWait();
            if (++spins % SPINS_PER_CLOCK_READ == 0 && System.nanoTime() - spinStart > SPIN_NANOS) {
                callerParked = true; // then re-check: the last worker either sees parked or we see its count
                while (completed.get() != total) LockSupport.park(this);
                callerParked = false;
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w);
        for (Worker w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private final class Worker extends Thread {
        private final int index;
        volatile boolean parked;

        Worker(int index) {
            super("tandem-parallel-" + index);
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            workerSetUp.run();
            long seen = 0;
            while (true) {
                seen = awaitGeneration(seen);
                if (closed) return;
                runPieces(index, seen);
            }
        }

        /** Spins, then parks, until the generation moves past {@code seen} or the runner closes. */
        private long awaitGeneration(long seen) {
            long spinStart = System.nanoTime();
            int spins = 0;
            long g;
            while ((g = generation) == seen && !closed) {
                Thread.onSpinWait();
                if (++spins % SPINS_PER_CLOCK_READ == 0 && System.nanoTime() - spinStart > SPIN_NANOS) {
                    parked = true; // then re-check: the caller either sees parked or we see its new generation
                    while ((g = generation) == seen && !closed) LockSupport.park(this);
                    parked = false;
                    return g;
                }
            }
            return g;
        }
    }
}
