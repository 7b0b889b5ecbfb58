package dev.tandem.trainer.sample;

import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;

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
 */
public final class TrafficRecorder implements Recorder, VerificationListener {

    private final int topK;
    private final double samplingRate;
    private final long maxPendingBytes;
    private final SampleSink sink;
    private final Function<int[], String> classifier;
    private final SplittableRandom random;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final Map<Long, String> tags = new ConcurrentHashMap<>();
    private final ThreadLocal<TopKSelector> selectors;
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

    private volatile java.util.function.BiConsumer<int[], String> taggedListener = (prompt, cls) -> {};

    /** Told about every explicitly tagged prompt (the classifier learns from them). */
    public void onTagged(java.util.function.BiConsumer<int[], String> listener) { this.taggedListener = listener; }

    /** The traffic class of the next sequence started with this id (a request's explicit tag). */
    public void tag(long seqId, String trafficClass) { tags.put(seqId, trafficClass); }

    public synchronized long recordedSamples() { return recorded; }

    public synchronized long droppedPositions() { return dropped; }

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
        if (p == null) return;
        long bytes = (long) committedRows * (8L * topK + 9);
        synchronized (this) {
            if (pendingBytes + bytes > maxPendingBytes) {
                dropped += committedRows;
                return;
            }
            pendingBytes += bytes;
        }
        p.bytes += bytes;
        TopKSelector selector = selectors.get();
        for (int i = 0; i < committedRows; i++) {
            int at = p.grow(topK);
            p.positions[at] = firstPosition + i;
            p.rejected[at] = i == acceptedDrafts && acceptedDrafts < draftCount;
            p.logZ[at] = selector.select(logits, logitsOffset + i * vocab, vocab, p.ids, p.values, at * topK);
        }
    }

    @Override
    public void end(long seqId, int[] tokens) {
        Pending p = pending.remove(seqId);
        if (p == null) return;
        release(p);
        if (p.count == 0) return;
        int n = p.count;
        // Positions beyond the committed tokens (cannot happen with a consistent caller) are cut.
        while (n > 0 && p.positions[n - 1] >= tokens.length) n--;
        if (n == 0) return;
        DistillationSample s = new DistillationSample(p.trafficClass, System.currentTimeMillis(), tokens.clone(),
                Arrays.copyOf(p.positions, n), topK, Arrays.copyOf(p.ids, n * topK), Arrays.copyOf(p.values, n * topK),
                Arrays.copyOf(p.logZ, n), Arrays.copyOf(p.rejected, n));
        synchronized (this) {
            recorded++;
        }
        sink.accept(s);
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
     * {@link #onStart(long, int[])} (an untagged prompt is classified).
     */
    @Override
    public void onStart(long seqId, int[] prompt, String trafficClass) {
        // A class that cannot name a draft directory is treated as no class (the prompt is classified).
        if (trafficClass != null && dev.tandem.trainer.version.DraftRegistry.isSafeClassName(trafficClass)) tag(seqId, trafficClass);
        onStart(seqId, prompt);
    }

    /** Sequences being recorded now (started, sampled, not yet ended). */
    public int pendingSequences() { return pending.size(); }

    @Override
    public void onVerified(long seqId, TokenHistory history, int firstPosition, float[] logits, int logitsOffset, int vocab,
                           int committedRows, Draft draft, int acceptedDrafts) {
        if (!pending.containsKey(seqId) || logits == null) return;
        synchronized (histories) {
            histories.put(seqId, history);
        }
        verified(seqId, firstPosition, logits, logitsOffset, vocab, committedRows, draft.count(), acceptedDrafts);
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

    @Override
    public void onRelease(long seqId) {
        TokenHistory h;
        synchronized (histories) {
            h = histories.remove(seqId);
        }
        if (h == null) abandon(seqId);
        else end(seqId, h.toArray());
    }

    /** Teacher data of one sequence in flight, in growing arrays. */
    private static final class Pending {
        final String trafficClass;
        int[] positions = new int[64];
        boolean[] rejected = new boolean[64];
        float[] logZ = new float[64];
        int[] ids = new int[0];
        float[] values = new float[0];
        int count;
        long bytes;

        Pending(String trafficClass) { this.trafficClass = trafficClass; }

        int grow(int k) {
            if (count == positions.length) {
                positions = Arrays.copyOf(positions, count * 2);
                rejected = Arrays.copyOf(rejected, count * 2);
                logZ = Arrays.copyOf(logZ, count * 2);
            }
            if (ids.length < positions.length * k) {
                ids = Arrays.copyOf(ids, positions.length * k);
                values = Arrays.copyOf(values, positions.length * k);
            }
            return count++;
        }
    }
}
