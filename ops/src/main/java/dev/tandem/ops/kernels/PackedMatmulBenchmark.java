package dev.tandem.ops.kernels;

import dev.tandem.engine.tensor.PackedF32Matrix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.TimeUnit;

/**
 * The engine's float32 product on one thread, by the packed kernels every stage and draft runs: stories15M's output
 * head (32000 x 288, 37 MB, streamed from memory) and a feed-forward matrix (768 x 288, in cache), times 1 row
 * (decode), 5 (verifying 4 drafts) and 16 (a batch). Weights are random: the cost does not depend on them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PackedMatmulBenchmark {

    @Param({"head", "ffn"})
    public String matrix;

    @Param({"1", "5", "16"})
    public int rows;

    private PackedF32Matrix packed;
    private float[] x;
    private float[] y;

    @Setup
    public void setUp() {
        int out = matrix.equals("head") ? 32000 : 768;
        int in = 288;
        packed = KernelData.packedGaussian(out, in, 1);
        x = KernelData.gaussian(rows * in, 2);
        y = new float[rows * out];
    }

    @Benchmark
    public float[] matmul() {
        packed.matmul(x, 0, packed.cols(), rows, y, 0, packed.rows(), 0, packed.rows());
        return y;
    }
}
