package dev.tandem.engine.bench;

import dev.tandem.engine.tensor.PackedF32Matrix;
import dev.tandem.engine.tensor.QuantKernel;
import dev.tandem.engine.tensor.Quantizer;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrices;
import dev.tandem.engine.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Single-thread matrix-times-batch speed of every writable weight type (and both Q8_0/Q4_0 kernels)
 * on an output-head-sized matrix, which is too large for the caches: the per-row cost that decides
 * decode speed. Prints the median thread CPU time of {@link #RUNS} runs after warm-up.
 * Run: {@code java --add-modules jdk.incubator.vector -cp engine/target/classes dev.tandem.engine.bench.MatmulBenchmark [TYPE...]}
 */
public final class MatmulBenchmark {

    public static final int ROWS = 32000;
    public static final int COLS = 288;
    /** K-quant rows hold whole 256-value super-blocks. */
    private static final int K_COLS = 256;
    private static final int RUNS = 15;
    private static final int WARMUP_RUNS = 20;
    /** Decode, a few streams, verifying 5 draft tokens, 16 streams (the compute-bound kernels). */
    private static final int[] BATCHES = {1, 4, 5, 16};
    /** CPU time of this thread, not wall time: other processes on a shared machine then matter less. */
    private static final ThreadMXBean THREAD = ManagementFactory.getThreadMXBean();

    /** {@code packed}: F32 in the {@link PackedF32Matrix} layout that resident (huge-page) weights use. */
    public record Result(TensorType type, QuantKernel kernel, boolean packed, int batch, double millis, double weightBytes) {
        @Override
        public String toString() {
            return String.format("%-5s %-10s batch %d: %7.3f ms  %6.2f GB/s of weights", type,
                    type == TensorType.Q8_0 || type == TensorType.Q4_0 ? kernel : packed ? "packed" : "", batch, millis,
                    weightBytes / millis / 1e6);
        }
    }

    private MatmulBenchmark() {}

    public static List<Result> run() {
        return run(List.of(TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q8_0, TensorType.Q4_0));
    }

    public static List<Result> run(List<TensorType> types) {
        SplittableRandom random = new SplittableRandom(42);
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) w[i] = (float) (random.nextDouble() * 2 - 1);
        float[] x = new float[COLS * BATCHES[BATCHES.length - 1]];
        for (int i = 0; i < x.length; i++) x[i] = (float) (random.nextDouble() * 2 - 1);
        List<Result> results = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (TensorType type : types) {
                MemorySegment data = encode(arena, type, w);
                boolean twoKernels = type == TensorType.Q8_0 || type == TensorType.Q4_0;
                for (QuantKernel kernel : twoKernels ? QuantKernel.values() : new QuantKernel[]{QuantKernel.DECODE_ROW}) {
                    int cols = type.blockSize() == K_COLS ? K_COLS : COLS;
                    WeightMatrix m = WeightMatrices.of(type, data, ROWS, cols, kernel);
                    for (int batch : BATCHES) results.add(new Result(type, kernel, false, batch, time(m, x, batch), data.byteSize()));
                    if (type == TensorType.F32) {
                        WeightMatrix p = PackedF32Matrix.pack(m, arena.allocate(PackedF32Matrix.packedBytes(ROWS, COLS), 64));
                        for (int batch : BATCHES) results.add(new Result(type, kernel, true, batch, time(p, x, batch), data.byteSize()));
                    }
                }
            }
        }
        return results;
    }

    private static MemorySegment encode(Arena arena, TensorType type, float[] w) {
        if (!Quantizer.WRITABLE.contains(type)) return randomBlocks(arena, type);
        int rowBytes = (int) type.bytesFor(COLS);
        byte[] row = new byte[rowBytes];
        MemorySegment data = arena.allocate((long) rowBytes * ROWS, 64);
        for (int r = 0; r < ROWS; r++) {
            Quantizer.quantize(type, w, r * COLS, COLS, row, 0);
            MemorySegment.copy(row, 0, data, ValueLayout.JAVA_BYTE, (long) r * rowBytes, rowBytes);
        }
        return data;
    }

    /** K-quants (which Tandem reads but does not write): random super-blocks with small finite f16 scales. */
    private static MemorySegment randomBlocks(Arena arena, TensorType type) {
        int cols = K_COLS;
        byte[] bytes = new byte[(int) type.bytesFor((long) ROWS * cols)];
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) random.nextInt(256);
        int[] scaleOffsets = type == TensorType.Q4_K ? new int[]{0, 2} : new int[]{type.blockBytes() - 2};
        for (int blk = 0; blk < bytes.length / type.blockBytes(); blk++) {
            for (int off : scaleOffsets) {
                short d = Float.floatToFloat16(0.001f + (float) random.nextDouble() * 0.05f);
                bytes[blk * type.blockBytes() + off] = (byte) d;
                bytes[blk * type.blockBytes() + off + 1] = (byte) (d >> 8);
            }
        }
        MemorySegment data = arena.allocate(bytes.length, 64);
        MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return data;
    }

    private static double time(WeightMatrix m, float[] x, int batch) {
        float[] out = new float[ROWS * BATCHES[BATCHES.length - 1]];
        for (int i = 0; i < WARMUP_RUNS; i++) {
            for (int b : BATCHES) m.matmul(x, 0, m.cols(), b, out, 0, ROWS, 0, ROWS);
        }
        double[] millis = new double[RUNS];
        for (int i = 0; i < RUNS; i++) {
            long t0 = THREAD.getCurrentThreadCpuTime();
            m.matmul(x, 0, m.cols(), batch, out, 0, ROWS, 0, ROWS);
            millis[i] = (THREAD.getCurrentThreadCpuTime() - t0) / 1e6;
        }
        Arrays.sort(millis);
        return millis[RUNS / 2];
    }

    public static void main(String[] args) {
        System.out.println("matmul " + ROWS + "x" + COLS + " (K-quants " + ROWS + "x" + K_COLS + "), one thread, median of " + RUNS);
        List<TensorType> types = args.length == 0 ? null : Arrays.stream(args).map(a -> TensorType.valueOf(a.toUpperCase())).toList();
        (types == null ? run() : run(types)).forEach(System.out::println);
    }
}
