package dev.tandem.ops.kernels;

import dev.tandem.trainer.bench.DistillerStepBenchmark;
import dev.tandem.trainer.distill.Distiller;
import dev.tandem.trainer.sample.DistillationSample;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.List;
import java.util.concurrent.TimeUnit;

/** One online distillation step on one thread, as {@link DistillerStepBenchmark} sets it up (the draft's shape, a batch of 4). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DistillerStepJmh {

    private Distiller distiller;
    private List<DistillationSample> batch;

    @Setup
    public void setUp() {
        distiller = DistillerStepBenchmark.distiller();
        batch = DistillerStepBenchmark.batch();
    }

    @Benchmark
    public Distiller.StepResult step() {
        return distiller.step(batch);
    }
}
