package dev.tandem.trainer.sample;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.trainer.TrainerSettings;

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
    private final int heldOutKept;
    private final Map<String, ReplayBuffer> buffers = new TreeMap<>();

    /** Bounds of each class's buffer: see {@link ReplayBuffer#ReplayBuffer(String, long, long, int, int)}. */
    public ReplayBuffers(long maxBytesPerClass, long maxHeldOutBytesPerClass, int heldOutEvery, int heldOutKept) {
        this.maxBytesPerClass = maxBytesPerClass;
        this.maxHeldOutBytesPerClass = maxHeldOutBytesPerClass;
        this.heldOutEvery = heldOutEvery;
        this.heldOutKept = heldOutKept;
    }

    /** Buffers with the bounds of {@code settings}: evaluations read its {@code heldOutSamples} most recent held out. */
    public static ReplayBuffers of(TrainerSettings settings) {
        return new ReplayBuffers(settings.replayBytesPerClass(), settings.heldOutBytesPerClass(), settings.heldOutEvery(), settings.heldOutSamples());
    }

    @Override
    public void accept(DistillationSample s) {
        buffer(s.trafficClass()).add(s);
        if (!s.trafficClass().equals(DraftModel.GENERAL_CLASS)) buffer(DraftModel.GENERAL_CLASS).add(s);
    }

    /** The buffer of a class (created empty when new). */
    public synchronized ReplayBuffer buffer(String trafficClass) {
        return buffers.computeIfAbsent(trafficClass, c -> new ReplayBuffer(c, maxBytesPerClass, maxHeldOutBytesPerClass, heldOutEvery, heldOutKept));
    }

    public synchronized List<String> classes() { return List.copyOf(buffers.keySet()); }

    /** Bytes held over every class. */
    public synchronized long bytes() {
        long sum = 0;
        for (ReplayBuffer b : buffers.values()) sum += b.bytes();
        return sum;
    }
}
