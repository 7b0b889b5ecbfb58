package dev.tandem.engine.tensor;

/**
 * Per-thread buffers reused by the matrix kernels, so that a matmul call allocates nothing once
 * the buffers have grown to the largest shape a thread has seen. Every matrix shares them: a thread
 * runs one kernel at a time, and the kernels never call each other.
 */
final class KernelScratch {

    private static final ThreadLocal<KernelScratch> PER_THREAD = ThreadLocal.withInitial(KernelScratch::new);

    private float[] row = new float[0];
    private float[] columns = new float[0];
    private final Q8Activations activations = new Q8Activations();

    private KernelScratch() {}

    static KernelScratch get() {
        return PER_THREAD.get();
    }

    /** A buffer of at least {@code n} floats for one dequantized row. */
    float[] row(int n) {
        if (row.length < n) row = new float[n];
        return row;
    }

    /** A buffer of at least {@code n} floats for batch rows interleaved column by column. */
    float[] columns(int n) {
        if (columns.length < n) columns = new float[n];
        return columns;
    }

    Q8Activations activations() {
        return activations;
    }
}
