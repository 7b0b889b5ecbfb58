package dev.tandem.trainer.sample;

import dev.tandem.engine.draft.DraftModel;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One {@link ReplayBuffer} per traffic class, created on the first sample of a class; every sample also
 * goes to the general class's buffer (the general draft learns from all traffic). A {@link SampleSink}.
 */
public final class ReplayBuffers implements SampleSink {

    private final long maxBytesPerClass;
    private final long maxHeldOutBytesPerClass;
    private final int heldOutEvery;
    private final Map<String, ReplayBuffer> buffers = new TreeMap<>();

    public ReplayBuffers(long maxBytesPerClass, long maxHeldOutBytesPerClass, int heldOutEvery) {
        this.maxBytesPerClass = maxBytesPerClass;
        this.maxHeldOutBytesPerClass = maxHeldOutBytesPerClass;
        this.heldOutEvery = heldOutEvery;
    }

    @Override
    public void accept(DistillationSample s) {
        buffer(s.trafficClass()).add(s);
        if (!s.trafficClass().equals(DraftModel.GENERAL_CLASS)) buffer(DraftModel.GENERAL_CLASS).add(s);
    }

    /** The buffer of a class (created empty when new). */
    public synchronized ReplayBuffer buffer(String trafficClass) {
        return buffers.computeIfAbsent(trafficClass, c -> new ReplayBuffer(c, maxBytesPerClass, maxHeldOutBytesPerClass, heldOutEvery));
    }

    public synchronized List<String> classes() { return List.copyOf(buffers.keySet()); }

    /** Bytes held over every class. */
    public synchronized long bytes() {
        long sum = 0;
        for (ReplayBuffer b : buffers.values()) sum += b.bytes();
        return sum;
    }
}
