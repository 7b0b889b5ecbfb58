package dev.tandem.trainer.sample;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The recorded samples of one traffic class, bounded in bytes: the oldest are evicted first, so the buffer
 * follows the traffic as it shifts. Every {@code heldOutEvery}-th sample is held out (not trained on) for
 * evaluating candidate drafts, which read only the most recent {@code heldOutKept} of them. A held-out sample that
 * falls out of that window (or out of the held-out byte bound) joins the training samples: by then no evaluation
 * reads it, and on a data-bound trainer dropping a fifth of the traffic would waste it. So nothing recorded is
 * lost but what the training bound evicts. Thread-safe: the recorder adds from serving threads while the trainer
 * reads.
 */
public final class ReplayBuffer {

    private final String trafficClass;
    private final long maxBytes;
    private final long maxHeldOutBytes;
    private final int heldOutEvery;
    private final int heldOutKept;
    private final Deque<DistillationSample> training = new ArrayDeque<>();
    private final Deque<DistillationSample> heldOut = new ArrayDeque<>();
    private long trainingBytes;
    private long heldOutBytes;
    private long added;
    private long evicted;
    private long graduated;

    /**
     * @param maxBytes        bound on the training samples' bytes
     * @param maxHeldOutBytes bound on the held-out samples' bytes
     * @param heldOutEvery    one sample in this many is held out (0 = none)
     * @param heldOutKept     held-out samples kept for evaluation (the most recent); older ones join training
     */
    public ReplayBuffer(String trafficClass, long maxBytes, long maxHeldOutBytes, int heldOutEvery, int heldOutKept) {
        if (maxBytes <= 0 || maxHeldOutBytes < 0 || heldOutEvery < 0 || heldOutKept < 1) throw new IllegalArgumentException("bad replay buffer bounds");
        this.trafficClass = trafficClass;
        this.maxBytes = maxBytes;
        this.maxHeldOutBytes = maxHeldOutBytes;
        this.heldOutEvery = heldOutEvery;
        this.heldOutKept = heldOutKept;
    }

    public String trafficClass() { return trafficClass; }

    public synchronized void add(DistillationSample s) {
        added++;
        if (heldOutEvery > 0 && added % heldOutEvery == 0 && maxHeldOutBytes > 0) {
            heldOut.addLast(s);
            heldOutBytes += s.bytes();
            while (heldOut.size() > heldOutKept || (heldOutBytes > maxHeldOutBytes && heldOut.size() > 1)) {
                DistillationSample old = heldOut.removeFirst();
                heldOutBytes -= old.bytes();
                graduated++;
                train(old);
            }
            return;
        }
        train(s);
    }

    /** Appends a training sample, evicting the oldest past the byte bound. */
    private void train(DistillationSample s) {
        training.addLast(s);
        trainingBytes += s.bytes();
        while (trainingBytes > maxBytes && training.size() > 1) {
            trainingBytes -= training.removeFirst().bytes();
            evicted++;
        }
    }

    /** {@code n} training samples drawn uniformly with replacement (empty when there are none). */
    public synchronized List<DistillationSample> sample(int n, SplittableRandom random) {
        List<DistillationSample> out = new ArrayList<>(n);
        if (training.isEmpty()) return out;
        List<DistillationSample> all = new ArrayList<>(training);
        for (int i = 0; i < n; i++) out.add(all.get(random.nextInt(all.size())));
        return out;
    }

    /** The most recent {@code n} held-out samples (all when fewer). */
    public synchronized List<DistillationSample> recentHeldOut(int n) {
        List<DistillationSample> all = new ArrayList<>(heldOut);
        return List.copyOf(all.subList(Math.max(0, all.size() - n), all.size()));
    }

    public synchronized List<DistillationSample> trainingSamples() { return List.copyOf(training); }

    public synchronized int trainingCount() { return training.size(); }

    public synchronized int heldOutCount() { return heldOut.size(); }

    /** Bytes held, training plus held out. */
    public synchronized long bytes() { return trainingBytes + heldOutBytes; }

    public synchronized long added() { return added; }

    public synchronized long evicted() { return evicted; }

    /** Held-out samples that left the evaluation window and joined the training samples. */
    public synchronized long graduated() { return graduated; }

    public synchronized void clear() {
        training.clear();
        heldOut.clear();
        trainingBytes = 0;
        heldOutBytes = 0;
    }
}
