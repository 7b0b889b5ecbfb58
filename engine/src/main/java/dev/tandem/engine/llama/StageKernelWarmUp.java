package dev.tandem.engine.llama;

import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.WarmUpScheduling;
import dev.tandem.engine.parallel.ParallelRunner;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * Compiles a stage's forward kernels before traffic has to: a daemon thread runs a scratch {@link LlamaStage} over
 * the same (read-only) weights, with its own KV cache and one compute thread, through the shapes serving uses (a
 * prompt's prefill, a decoding row, verifications of 2 to 8 rows, a step of 16 sequences) until a round of them
 * takes no less time than the best round so far while the JIT compiles nothing, a few rounds in a row, or the time
 * limit passes. The JIT compiles
 * per method, not per stage, so the serving stage runs the compiled kernels from then on.
 *
 * <p>Why: a worker's own warm-up (a 32-row prefill and a few decoding steps) starts the compilations but does not
 * wait for them, and the multi-row passes that verification and batching use are compiled only once traffic has run
 * them hundreds of times. JFR on a fresh `cluster up` (2-core Xeon) showed the workers in the Vector API's
 * interpreted paths for most samples of the first 40-50 s of traffic, and `bench spec`'s first run there measured
 * 249 tok/s against 392 for the second. The thread is scheduled as {@link GreedyHead}'s warm-up is ({@link WarmUpScheduling}).
 */
public final class StageKernelWarmUp {

    /** Rows of the prefill-shaped forward (quad passes of four and five rows, whole quads and their remainders). */
    private static final int PREFILL_ROWS = 33;
    /** Verification shapes: a decoding row and its drafts. */
    private static final int MAX_VERIFY_ROWS = 8;
    /** Sequences of the batched decoding step. */
    private static final int BATCH_SEQUENCES = 16;
    /** Rounds in a row that must not beat the best round by more than {@link #IMPROVEMENT} before it stops. */
    private static final int SETTLED_ROUNDS = 3;
    private static final double IMPROVEMENT = 0.9;

    private final Thread thread;
    private volatile boolean stopped;
    private volatile int rounds;

    private StageKernelWarmUp(ModelWeights weights, int fromLayer, int toLayer, Duration limit, String name) {
        thread = new Thread(() -> run(weights, fromLayer, toLayer, limit), name);
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
    }

    /**
     * Starts warming up the kernels of layers [fromLayer, toLayer) over {@code weights} for at most {@code limit}. The
     * caller {@link #stop()}s it before it closes the weights.
     */
    public static StageKernelWarmUp start(ModelWeights weights, int fromLayer, int toLayer, Duration limit, String name) {
        StageKernelWarmUp w = new StageKernelWarmUp(weights, fromLayer, toLayer, limit, name);
        w.thread.start();
        return w;
    }

    /** Asks the thread to stop and waits for it, so the weights it reads may be closed afterwards. */
    public void stop() {
        stopped = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the thread has ended (settled, timed out or stopped). */
    public boolean done() {
        return !thread.isAlive();
    }

    /** Rounds run so far. */
    public int rounds() {
        return rounds;
    }

    private void run(ModelWeights weights, int fromLayer, int toLayer, Duration limit) {
        WarmUpScheduling scheduling = WarmUpScheduling.enter();
        long deadline = System.nanoTime() + limit.toNanos();
        int seqLen = weights.config().seqLen();
        int prefill = Math.max(1, Math.min(PREFILL_ROWS, seqLen - MAX_VERIFY_ROWS));
        int verify = Math.max(1, Math.min(MAX_VERIFY_ROWS, seqLen - prefill));
        int rows = Math.max(prefill + verify, BATCH_SEQUENCES);
        try (ParallelRunner runner = new ParallelRunner(1)) {
            LlamaStage stage = new LlamaStage(weights, fromLayer, toLayer, runner, rows);
            stage.useGreedyScreen(false); // the screen has a warm-up of its own (GreedyHead)
            ForwardBatch batch = new ForwardBatch(weights.config().dim(), rows);
            float[] hidden = new float[weights.config().dim()];
            long best = Long.MAX_VALUE;
            int settled = 0;
            while (!stopped && settled < SETTLED_ROUNDS && System.nanoTime() < deadline) {
                scheduling.check();
                long jitBefore = jitMillis();
                long t0 = System.nanoTime();
                round(stage, batch, hidden, prefill, verify);
                long took = System.nanoTime() - t0;
                rounds++;
                // Settled: no faster than the best round, and the JIT compiled nothing meanwhile (a plateau in C1's code
                // can last rounds while C2 works through the queue).
                settled = took < best * IMPROVEMENT || jitMillis() != jitBefore ? 0 : settled + 1;
                best = Math.min(best, took);
            }
        } catch (IllegalStateException e) {
            // The weights were closed under the thread (the stage stopped without stop()): nothing left to warm.
        }
    }

    /** The JIT's total compilation time so far (0 where the JVM does not measure it). */
    private static long jitMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    /**
     * One of every shape, on sequence 0 (prefill, decoding, verifications) and sequences 1-16 (a batched step). Checks
     * for {@link #stop()} between forwards: before the JIT has compiled them, a round takes seconds.
     */
    private void round(LlamaStage stage, ForwardBatch batch, float[] hidden, int prefill, int verify) {
        batch.clear();
        for (int p = 0; p < prefill; p++) add(stage, batch, 0, p, hidden, p == prefill - 1);
        stage.forward(batch);
        for (int k = 1; k <= verify && !stopped; k++) {
            batch.clear();
            for (int r = 0; r < k; r++) add(stage, batch, 0, prefill + r, hidden, true);
            stage.forward(batch);
            stage.cache().truncate(0, prefill); // rejected drafts, as verification leaves them
        }
        if (!stopped) {
            batch.clear();
            for (int s = 1; s <= BATCH_SEQUENCES; s++) add(stage, batch, s, 0, hidden, true);
            stage.forward(batch);
        }
        for (int s = 0; s <= BATCH_SEQUENCES; s++) stage.cache().release(s);
    }

    private static void add(LlamaStage stage, ForwardBatch batch, long seqId, int position, float[] hidden, boolean logits) {
        RowOutput output = !logits ? RowOutput.HIDDEN : stage.isLast() ? RowOutput.LOGITS : RowOutput.HIDDEN;
        if (stage.isFirst()) batch.addToken(seqId, position, 1 + position % 100, output);
        else batch.addHidden(seqId, position, hidden, 0, output);
    }
}
