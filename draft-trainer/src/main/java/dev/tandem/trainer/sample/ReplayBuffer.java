package dev.tandem.trainer.sample;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The recorded samples of one traffic class, bounded in bytes: the oldest are evicted first, so the buffer
 * follows the traffic as it shifts. Every {@code heldOutEvery}-th sample is held out (never trained on) for
 * evaluating candidate drafts; the held-out set keeps only the most recent, within its own byte bound.
 * Thread-safe: the recorder adds from serving threads while the trainer reads.
 */
public final class ReplayBuffer {

    private final String trafficClass;
    private final long maxBytes;
    private final long maxHeldOutBytes;
    private final int heldOutEvery;
    private final Deque<DistillationSample> training = new ArrayDeque<>();
    private final Deque<DistillationSample> heldOut = new ArrayDeque<>();
    private long trainingBytes;
    private long heldOutBytes;
    private long added;
    private long evicted;

    /**
     * @param maxBytes        bound on the training samples' bytes
     * @param maxHeldOutBytes bound on the held-out samples' bytes
     * @param heldOutEvery    one sample in this many is held out (0 = none)
     */
    public ReplayBuffer(String trafficClass, long maxBytes, long maxHeldOutBytes, int heldOutEvery) {
        if (maxBytes <= 0 || maxHeldOutBytes < 0 || heldOutEvery < 0) throw new IllegalArgumentException("bad replay buffer bounds");
        this.trafficClass = trafficClass;
        this.maxBytes = maxBytes;
        this.maxHeldOutBytes = maxHeldOutBytes;
        this.heldOutEvery = heldOutEvery;
    }

    public String trafficClass() { return trafficClass; }

    public synchronized void add(DistillationSample s) {
        added++;
        if (heldOutEvery > 0 && added % heldOutEvery == 0 && maxHeldOutBytes > 0) {
            heldOut.addLast(s);
            heldOutBytes += s.bytes();
            while (heldOutBytes > maxHeldOutBytes && heldOut.size() > 1) heldOutBytes -= heldOut.removeFirst().bytes();
            return;
        }
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

    public synchronized void clear() {
        training.clear();
        heldOut.clear();
        trainingBytes = 0;
        heldOutBytes = 0;
    }
}
