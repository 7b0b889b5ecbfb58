package dev.tandem.engine.bench;

import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.GreedyHead;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Thread CPU time of one whole-model forward on one thread, after {@link #CONTEXT} cached positions per
 * sequence: verifying 1 to 8 tokens of one sequence, and one decode step of 16 sequences, for each kind of head
 * output: whole logits rows, greedy tokens only and top-k logits rows (both through the int8 screen of
 * {@link GreedyHead}). Unlike the
 * wall-clock {@link EngineBenchmark}, other processes on a shared machine barely move it (they still share
 * the caches and memory), so it is the one to compare two builds with. Prints the median of {@link #RUNS}.
 * Run: {@code java --add-modules jdk.incubator.vector -cp engine/target/classes
 * dev.tandem.engine.bench.ForwardCpuBenchmark [model.bin]}
 */
public final class ForwardCpuBenchmark {

    /** Cached positions of every sequence before the timed forwards. */
    public static final int CONTEXT = 64;
    public static final int RUNS = 31;
    private static final int WARMUP_RUNS = 30;
    private static final int STREAMS = 16;
    private static final int[] SIZES = {1, 2, 3, 4, 5, 6, 7, 8, STREAMS};
    private static final ThreadMXBean THREAD = ManagementFactory.getThreadMXBean();

    private ForwardCpuBenchmark() {}

    public static void main(String[] args) {
        Path file = args.length > 0 ? Path.of(args[0]) : TandemHome.defaultModelDir().resolve("model.bin");
        try (LoadedModel model = Llama2cModelLoader.load(file).placed(EngineSettings.load().weightsMemory()); ParallelRunner runner = new ParallelRunner(1)) {
            ModelConfig c = model.config();
            LlamaStage stage = new LlamaStage(model.weights(), 0, c.nLayers(), runner, CONTEXT);
            ForwardBatch batch = new ForwardBatch(c.dim(), CONTEXT);
            for (int s = 0; s < STREAMS; s++) {
                batch.clear();
                for (int p = 0; p < CONTEXT; p++) batch.addToken(s, p, token(s, p), false);
                stage.forward(batch);
            }
            stage.useGreedyScreen(true);
            try {
                GreedyHead.awaitWarm(java.time.Duration.ofSeconds(60)); // the screen's kernels compiled before timing
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            for (RowOutput output : RowOutput.values()) {
                if (!output.usesHead()) continue;
                StringBuilder line = new StringBuilder("forward CPU ms, one thread, context " + CONTEXT + ", " + output + ":");
                for (int n : SIZES) line.append(String.format("  %s%d %.3f", n == STREAMS ? "batch" : "k=", n, time(stage, batch, n, output)));
                System.out.println(line);
            }
        }
    }

    /** Median CPU ms of a forward of n rows: k = n tokens of sequence 0, or one token of each of n sequences. */
    private static double time(LlamaStage stage, ForwardBatch batch, int n, RowOutput output) {
        double[] millis = new double[RUNS];
        for (int i = 0; i < WARMUP_RUNS + RUNS; i++) {
            batch.clear();
            for (int r = 0; r < n; r++) {
                if (n == STREAMS) batch.addToken(r, CONTEXT, token(r, CONTEXT), output);
                else batch.addToken(0, CONTEXT + r, token(0, CONTEXT + r), output);
            }
            long t0 = THREAD.getCurrentThreadCpuTime();
            stage.forward(batch); // rewrites positions from CONTEXT on, so every run sees the same context
            long t = THREAD.getCurrentThreadCpuTime() - t0;
            if (i >= WARMUP_RUNS) millis[i - WARMUP_RUNS] = t / 1e6;
        }
        Arrays.sort(millis);
        return millis[RUNS / 2];
    }

    private static int token(int seq, int pos) {
        return 3 + (pos * 31 + seq * 7) % 30000;
    }
}
