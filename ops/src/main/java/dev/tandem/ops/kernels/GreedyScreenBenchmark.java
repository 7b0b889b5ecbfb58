package dev.tandem.ops.kernels;

import dev.tandem.engine.llama.GreedyHead;
import dev.tandem.engine.parallel.ParallelRunner;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * The greedy token of 1 or 5 rows on one thread through the int8 screen of a stories15M-sized head (32000 x 288):
 * the screen's int8 products, then the float32 rows of the candidates; compare with {@link PackedMatmulBenchmark}'s
 * whole float32 head. Weights and rows are random, which leaves about as few candidates as real ones.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GreedyScreenBenchmark {

    private static final int VOCAB = 32000;
    private static final int DIM = 288;

    @Param({"1", "5"})
    public int rows;

    private GreedyHead head;
    private ParallelRunner runner;
    private float[] x;

    @Setup(Level.Trial)
    public void setUp() throws InterruptedException {
        head = GreedyHead.forHead(KernelData.packedGaussian(VOCAB, DIM, 3));
        runner = new ParallelRunner(1);
        x = KernelData.gaussian(rows * DIM, 4);
        GreedyHead.awaitWarm(java.time.Duration.ofSeconds(60));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        runner.close();
    }

    @Benchmark
    public int screen() {
        head.run(runner, x, 0, rows);
        return head.token(rows - 1);
    }
}
