package dev.tandem.engine.sampling;

import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Run in a JVM of its own by {@link SamplersTest}: samples rows of a 32,000-token vocabulary with each kind of sampler,
 * as serving does, in windows of 200 calls until one allocates nothing (the JIT has compiled the vector kernels; a
 * deoptimization can send a method back to the interpreter for a while) or 30 s pass, prints each sampler's last
 * window, and exits 1 if a sampler never had a window without allocation: code that allocates on every call. Its own JVM because in the test
 * JVM the kernels' compiled code depends on which tests ran before (calls with vocabularies of one to five tokens,
 * other classes): in a clean clone's test order the softmax's exponentials stayed in the Vector API's boxing code for
 * 30 s of calls, while a process that samples real rows compiles them within a few hundred.
 */
public final class SamplerAllocationProbe {

    private static final int VOCAB = 32_000;
    private static final int MEASURED = 200;
    private static final long LIMIT = 4096;
    private static final long WARM_UP_NANOS = 30_000_000_000L;

    private SamplerAllocationProbe() {}

    public static void main(String[] args) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long thread = Thread.currentThread().threadId();
        Random random = new Random(1);
        float[] template = new float[VOCAB];
        for (int i = 0; i < VOCAB; i++) template[i] = (float) random.nextGaussian() * 3f;
        float[] logits = new float[VOCAB];
        boolean ok = true;
        for (SamplerSettings settings : new SamplerSettings[] {
                new SamplerSettings(1f, 0, 1f, 1), new SamplerSettings(1f, 0, 0.9f, 1),
                new SamplerSettings(1f, 40, 1f, 1), new SamplerSettings(0.7f, 40, 0.9f, 1)}) {
            Sampler sampler = Samplers.create(settings, VOCAB);
            long end = System.nanoTime() + WARM_UP_NANOS;
            long allocated;
            int windows = 0;
            do { // until a window of calls runs in compiled code: a deoptimization may send it back for a while
                long before = threads.getThreadAllocatedBytes(thread);
                for (int i = 0; i < MEASURED; i++) {
                    System.arraycopy(template, 0, logits, 0, VOCAB);
                    sampler.sample(logits, 0, VOCAB);
                }
                allocated = threads.getThreadAllocatedBytes(thread) - before;
                windows++;
            } while (allocated >= LIMIT && System.nanoTime() < end);
            System.out.println(settings + " allocated " + allocated + " bytes in " + MEASURED + " calls (window " + windows + ")");
            ok &= allocated < LIMIT;
        }
        System.exit(ok ? 0 : 1);
    }
}
