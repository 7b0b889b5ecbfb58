package dev.tandem.trainer.sample;

import dev.tandem.engine.draft.DraftModel;

import dev.tandem.engine.llama.OutputHead;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.trainer.idle.TrainingCheckpoint;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The {@link Recorder}: records a sampled fraction of sequences (chosen when they begin, so a recorded
 * sequence has all its verified positions, which the expected-accepted-length metric needs) and emits one
 * {@link DistillationSample} per recorded sequence when it ends. Memory of sequences in flight is bounded
 * too: past {@code maxPendingBytes} new positions are dropped. Also a {@link VerificationListener}, so the
 * in-process {@link dev.tandem.engine.spec.SpeculativeDecoder} feeds it directly; the traffic class of a
 * sequence then comes from {@link #tag} (set before the sequence starts) or from {@code classifier}
 * applied to the prompt. Thread-safe per sequence: calls for one sequence come from one thread at a time.
 *
 * <p>With {@link #deferTeacher} on, a recorded greedy row costs serving nothing beyond its greedy token: the
 * recorder keeps the row's hidden state, and the teacher's top logits and normalizer are computed from it by
 * {@link #resolveDeferred} (on the trainer's thread, in idle time) before the sample reaches the sink. They are then
 * the exact float32 logits, where a row recorded on the serving path gets the greedy screen's bound on the tail.
 */
public final class TrafficRecorder implements Recorder, VerificationListener {

    /** Hidden rows whose logits one resolution pass computes together (scratch: this many logits rows). */
    private static final int RESOLVE_ROWS = 8;
    /** Vocabulary rows per head product between two training checkpoints (~1 ms on one core). */
    private static final int RESOLVE_VOCAB_SLICE = 4096;

    private final int topK;
    private final double samplingRate;
    private final long maxPendingBytes;
    private final SampleSink sink;
    private final Function<int[], String> classifier;
    private final SplittableRandom random;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Map<Long, String> tags = new ConcurrentHashMap<>();
    private final ThreadLocal<TopKSelector> selectors;
    /** Finished sequences whose deferred rows wait for their teacher logits, oldest first (guarded by this). */
    private final ArrayDeque<Finished> deferred = new ArrayDeque<>();
    private final Object resolving = new Object();
    private float[] normed = new float[0];
    private float[] resolvedLogits = new float[0];
    private volatile boolean deferTeacher;
    private long pendingBytes;
    private long recorded;
    private long dropped;

    /**
     * @param samplingRate    fraction of sequences recorded, in [0, 1]
     * @param maxPendingBytes bound on the teacher data held for sequences still running
     * @param classifier      traffic class of an untagged prompt (tokens with BOS)
     */
    public TrafficRecorder(int topK, double samplingRate, long maxPendingBytes, SampleSink sink, Function<int[], String> classifier,
                           long seed) {
        if (samplingRate < 0 || samplingRate > 1) throw new IllegalArgumentException("sampling rate must be in [0, 1]");
        this.topK = topK;
        this.samplingRate = samplingRate;
        this.maxPendingBytes = maxPendingBytes;
        this.sink = sink;
        this.classifier = classifier;
        this.random = new SplittableRandom(seed);
        this.selectors = ThreadLocal.withInitial(() -> new TopKSelector(topK));
    }

    /**
     * Whether greedy rows are recorded by their hidden state, their teacher computed later by {@link #resolveDeferred}
     * (which someone must then call), instead of by their top logits on the serving path. Off by default.
     */
    public TrafficRecorder deferTeacher(boolean on) {
        this.deferTeacher = on;
        return this;
    }

    private volatile java.util.function.BiConsumer<int[], String> taggedListener = (prompt, cls) -> {};

    /** Told about every explicitly tagged prompt (the classifier learns from them). */
    public void onTagged(java.util.function.BiConsumer<int[], String> listener) { this.taggedListener = listener; }

    /** The traffic class of the next sequence started with this id (a request's explicit tag). */
    public void tag(long seqId, String trafficClass) { tags.put(seqId, trafficClass); }

    public synchronized long recordedSamples() { return recorded; }

    public synchronized long droppedPositions() { return dropped; }

    /** Finished sequences waiting for {@link #resolveDeferred}. */
    public synchronized int deferredSamples() { return deferred.size(); }

    @Override
    public void begin(long seqId, String trafficClass) {
        boolean take;
        synchronized (this) {
            take = samplingRate >= 1 || random.nextDouble() < samplingRate;
        }
        if (take) pending.put(seqId, new Pending(trafficClass));
        else pending.remove(seqId);
    }

    @Override
    public void verified(long seqId, int firstPosition, float[] logits, int logitsOffset, int vocab, int committedRows,
                         int draftCount, int acceptedDrafts) {
        Pending p = pending.get(seqId);
        if (p == null || !reserve(p, committedRows, committedRows * rowBytes(0))) return;
        TopKSelector selector = selectors.get();
        for (int i = 0; i < committedRows; i++) {
            int at = p.add(firstPosition + i, i == acceptedDrafts && acceptedDrafts < draftCount, topK);
            p.logZ[at] = selector.select(logits, logitsOffset + i * vocab, vocab, p.ids, p.values, at * topK);
        }
    }

    /** Bytes a recorded row holds: its top logits and flags, and its hidden state while deferred. */
    private long rowBytes(int hiddenDim) {
        return 8L * topK + 9 + 4L * hiddenDim;
    }

    /** Charges a step's rows to the pending bound, or drops them all when it would pass it. */
    private boolean reserve(Pending p, int rows, long bytes) {
        synchronized (this) {
            if (pendingBytes + bytes > maxPendingBytes) {
                dropped += rows;
                return false;
            }
            pendingBytes += bytes;
        }
        p.bytes += bytes;
        return true;
    }

    @Override
    public void end(long seqId, int[] tokens) {
        Pending p = pending.remove(seqId);
        if (p == null) return;
        int n = p.count;
        // Positions beyond the committed tokens (cannot happen with a consistent caller) are cut.
        while (n > 0 && p.positions[n - 1] >= tokens.length) n--;
        if (n > 0 && p.deferredRows > 0) {
            synchronized (this) {
                deferred.addLast(new Finished(p, n, tokens.clone())); // its bytes stay charged until resolved
            }
            return;
        }
        release(p);
        if (n > 0) emit(p, n, tokens);
    }

    private void emit(Pending p, int n, int[] tokens) {
        DistillationSample s = new DistillationSample(p.trafficClass, System.currentTimeMillis(), tokens.clone(),
                Arrays.copyOf(p.positions, n), topK, Arrays.copyOf(p.ids, n * topK), Arrays.copyOf(p.values, n * topK),
                Arrays.copyOf(p.logZ, n), Arrays.copyOf(p.rejected, n));
        synchronized (this) {
            recorded++;
        }
        sink.accept(s);
    }

    /**
     * Computes the teacher of the oldest finished sequence's deferred rows (final norm and output head over the whole
     * vocabulary, then its top logits and normalizer) and hands its sample to the sink. Runs on the caller's thread
     * between {@link TrainingCheckpoint}s, so on the trainer's thread it yields to serving within about a millisecond.
     * A sample whose stage has stopped since (its weights closed) is dropped. Returns false when nothing waits.
     */
    public boolean resolveDeferred() {
        Finished f;
        synchronized (this) {
            f = deferred.pollFirst();
        }
        if (f == null) return false;
        synchronized (resolving) {
            try {
                computeTeacher(f);
            } catch (IllegalStateException e) {
                if (f.pending.head.isAlive()) throw e;
                // The stage whose hidden states these are has stopped and closed its weights (rebalance, unload) while
                // the sample waited: the sample is dropped, the trainer goes on.
                release(f.pending);
                synchronized (this) {
                    dropped += f.positions;
                }
                return true;
            }
        }
        release(f.pending);
        emit(f.pending, f.positions, f.tokens);
        return true;
    }

    /** Fills a finished sequence's deferred teacher rows (holding {@code resolving}, which guards the scratch). */
    private void computeTeacher(Finished f) {
        Pending p = f.pending;
        OutputHead head = p.head;
        if (!head.isAlive()) throw new IllegalStateException("the output head's weights are closed");
        int dim = head.dim();
        int vocab = head.vocabSize();
        if (normed.length < RESOLVE_ROWS * dim) normed = new float[RESOLVE_ROWS * dim];
        if (resolvedLogits.length < RESOLVE_ROWS * vocab) resolvedLogits = new float[RESOLVE_ROWS * vocab];
        TopKSelector selector = selectors.get();
        // Deferred rows were kept in position order: hidden row j belongs to the j-th deferred position.
        int[] at = new int[p.deferredRows];
        int m = 0;
        for (int i = 0; i < f.positions; i++) if (p.hiddenRow[i] >= 0) at[m++] = i;
        for (int start = 0; start < m; start += RESOLVE_ROWS) {
            int rows = Math.min(RESOLVE_ROWS, m - start);
            head.normalize(p.hidden, p.hiddenRow[at[start]] * dim, rows, normed);
            for (int from = 0; from < vocab; from += RESOLVE_VOCAB_SLICE) {
                TrainingCheckpoint.check();
                head.logits(normed, rows, resolvedLogits, from, Math.min(vocab, from + RESOLVE_VOCAB_SLICE));
            }
            for (int r = 0; r < rows; r++) {
                int i = at[start + r];
                p.logZ[i] = selector.select(resolvedLogits, r * vocab, vocab, p.ids, p.values, i * topK);
            }
        }
    }

    @Override
    public void abandon(long seqId) {
        Pending p = pending.remove(seqId);
        if (p != null) release(p);
    }

    private synchronized void release(Pending p) {
        pendingBytes -= p.bytes;
    }

    // VerificationListener: the in-process decoder.

    private final Map<Long, TokenHistory> histories = new HashMap<>();

    @Override
    public void onStart(long seqId, int[] prompt) {
        String tag = tags.remove(seqId);
        if (tag != null) taggedListener.accept(prompt, tag);
        begin(seqId, tag != null ? tag : classifier.apply(prompt));
    }

    /**
     * The pipeline's last stage: the request's class ("" = none) tags the sequence, then it starts as in
     * {@link #onStart(long, int[])} (an untagged prompt is classified); a sequence of class
     * {@link DraftModel#UNRECORDED_CLASS} is not recorded.
     */
    @Override
    public void onStart(long seqId, int[] prompt, String trafficClass) {
        if (DraftModel.UNRECORDED_CLASS.equals(trafficClass)) {
            tags.remove(seqId);
            pending.remove(seqId); // nothing recorded, and the classifier does not learn from it
            return;
        }
        // A class that cannot name a draft directory is treated as no class (the prompt is classified).
        if (trafficClass != null && dev.tandem.trainer.version.DraftRegistry.isSafeClassName(trafficClass)) tag(seqId, trafficClass);
        onStart(seqId, prompt);
    }

    /** Sequences being recorded now (started, sampled, not yet ended). */
    public int pendingSequences() { return pending.size(); }

    /**
     * Each committed row is recorded by its logits when it has them, else (deferring) by its hidden state; a row with
     * neither is skipped.
     */
    @Override
    public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                           int committedRows, Draft draft, int acceptedDrafts) {
        Pending p = pending.get(seqId);
        if (p == null || out == null) return;
        OutputHead head = deferTeacher ? out.outputHead() : null;
        long bytes = 0;
        for (int i = 0; i < committedRows; i++) {
            if (out.hasLogits(firstRow + i)) bytes += rowBytes(0);
            else if (head != null) bytes += rowBytes(out.dim());
        }
        if (bytes == 0 || !reserve(p, committedRows, bytes)) return;
        synchronized (histories) {
            histories.put(seqId, history);
        }
        TopKSelector selector = selectors.get();
        for (int i = 0; i < committedRows; i++) {
            int row = firstRow + i;
            boolean logits = out.hasLogits(row);
            if (!logits && head == null) continue;
            int at = p.add(firstPosition + i, i == acceptedDrafts && acceptedDrafts < draft.count(), topK);
            if (logits) p.logZ[at] = selector.select(out.logits(), out.logitsOffset(row), out.vocabSize(), p.ids, p.values, at * topK);
            else p.defer(at, out.hidden(), out.hiddenOffset(row), head);
        }
    }

    /**
     * A sample keeps the top k logits and the log of the softmax normalizer: the top k must be exact, the others only
     * enter the normalizer, where the greedy screen's bound on each moves it by at most that bound (far less in
     * practice: they are the tail of the distribution).
     */
    @Override
    public int exactTopLogits() {
        return topK;
    }

    /** Only sequences being recorded need their logits. */
    @Override
    public boolean readsLogits(long seqId) {
        return pending.containsKey(seqId);
    }

    /** Deferring, a recorded greedy row needs only its greedy token from the target (its hidden state is always there). */
    @Override
    public RowOutput verifiedRow(long seqId, boolean greedy) {
        if (greedy && deferTeacher && pending.containsKey(seqId)) return RowOutput.GREEDY_TOKEN;
        return VerificationListener.super.verifiedRow(seqId, greedy);
    }

    @Override
    public void onRelease(long seqId) {
        TokenHistory h;
        synchronized (histories) {
            h = histories.remove(seqId);
        }
        if (h == null) abandon(seqId);
        else end(seqId, h.toArray());
    }

    /** A finished sequence with deferred rows: its first {@code positions} positions make the sample. */
    private record Finished(Pending pending, int positions, int[] tokens) {}

    /** Teacher data of one sequence in flight, in growing arrays. */
    private static final class Pending {
        final String trafficClass;
        int[] positions = new int[64];
        boolean[] rejected = new boolean[64];
        float[] logZ = new float[64];
        /** Per position, its row in {@link #hidden} while its teacher is deferred, else -1. */
        int[] hiddenRow = new int[64];
        int[] ids = new int[0];
        float[] values = new float[0];
        float[] hidden = new float[0];
        OutputHead head;
        int deferredRows;
        int count;
        long bytes;

        Pending(String trafficClass) { this.trafficClass = trafficClass; }

        /** A new position, its teacher still to fill; returns its index. */
        int add(int position, boolean wasRejected, int k) {
            if (count == positions.length) {
                positions = Arrays.copyOf(positions, count * 2);
                rejected = Arrays.copyOf(rejected, count * 2);
                logZ = Arrays.copyOf(logZ, count * 2);
                hiddenRow = Arrays.copyOf(hiddenRow, count * 2);
            }
            if (ids.length < positions.length * k) {
                ids = Arrays.copyOf(ids, positions.length * k);
                values = Arrays.copyOf(values, positions.length * k);
            }
            positions[count] = position;
            rejected[count] = wasRejected;
            hiddenRow[count] = -1;
            return count++;
        }

        /** Keeps position {@code at}'s hidden state, for its teacher later. */
        void defer(int at, float[] h, int off, OutputHead outputHead) {
            int dim = outputHead.dim();
            head = outputHead;
            if (hidden.length < (deferredRows + 1) * dim) hidden = Arrays.copyOf(hidden, Math.max(64, 2 * deferredRows + 2) * dim);
            System.arraycopy(h, off, hidden, deferredRows * dim, dim);
            hiddenRow[at] = deferredRows++;
        }
    }
}
