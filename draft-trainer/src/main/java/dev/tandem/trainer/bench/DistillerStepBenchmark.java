package dev.tandem.trainer.bench;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.parallel.BackgroundScheduling;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.distill.Distiller;
import dev.tandem.trainer.distill.TrainingParallelism;
import dev.tandem.trainer.sample.DistillationSample;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The cost of one online distillation step on the default draft's shape (stories15M's dimensions, one layer, a
 * 2048-token head, the online settings: embedding frozen): a batch of {@link #BATCH} synthetic samples of {@link #TOKENS} tokens with a top-32 teacher at
 * the last {@link #POSITIONS}, as `bench osd` records them. Prints the median of {@link #RUNS} steps after
 * {@link #WARMUP} of thread CPU time on one thread, and of wall time on a training pool of {@code threads} (default 2),
 * as a worker's trainer runs them, with the process's mean CPU time a step there. Weights are random: the cost does not depend on them.
 * Run: {@code java --add-modules jdk.incubator.vector -cp <the tandem jars> dev.tandem.trainer.bench.DistillerStepBenchmark [threads [idle]]}
 */
public final class DistillerStepBenchmark {

    private static final int BATCH = 4;
    private static final int TOKENS = 84;
    private static final int POSITIONS = 64;
    private static final int TOP_K = 32;
    private static final int WARMUP = 40;
    private static final int RUNS = 41;
    private static final DraftConfig SHAPE = new DraftConfig(288, 768, 1, 6, 6, 32000, 2048, 256, 1e-5f, 10000f);
    private static final ThreadMXBean THREAD = ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private DistillerStepBenchmark() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        // "idle": the threads in Linux's idle CPU class, as a worker's trainer runs (with other load, it gets what is left).
        boolean idle = args.length > 1 && args[1].equals("idle");
        Runnable setUp = idle ? BackgroundScheduling::enterIdleClass : () -> {};
        setUp.run();
        Distiller distiller = distiller();
        List<DistillationSample> batch = batch();
        double cpu = median(distiller, batch, true);
        double wall;
        double processCpu;
        try (ParallelRunner pool = new ParallelRunner(threads, setUp)) {
            TrainingParallelism.install(pool);
            long cpu0 = PROCESS.getProcessCpuTime();
            wall = median(distiller, batch, false);
            processCpu = (PROCESS.getProcessCpuTime() - cpu0) / 1e6 / (WARMUP + RUNS);
        } finally {
            TrainingParallelism.install(null);
        }
        System.out.printf(java.util.Locale.ROOT, "distiller step (%d x %d tokens, %d positions each): %.2f ms CPU on one thread;"
                + " on %d threads %.2f ms wall, %.2f ms of the process's CPU%n", BATCH, TOKENS, POSITIONS, cpu, threads, wall, processCpu);
    }

    /** A distiller of a random draft of the default draft's shape, with the online settings. */
    public static Distiller distiller() {
        DraftModel model = DraftModel.random(SHAPE, ReducedVocabulary.firstTokens(SHAPE.headSize(), SHAPE.vocabSize()), 1);
        return new Distiller(model, TrainerSettings.defaults().onlineDistiller());
    }

    /** The batch of synthetic samples a step trains on. */
    public static List<DistillationSample> batch() {
        return samples(new SplittableRandom(3));
    }

    private static double median(Distiller distiller, List<DistillationSample> batch, boolean cpuTime) {
        double[] ms = new double[RUNS];
        for (int i = 0; i < WARMUP + RUNS; i++) {
            long t0 = cpuTime ? THREAD.getCurrentThreadCpuTime() : System.nanoTime();
            distiller.step(batch);
            long t1 = cpuTime ? THREAD.getCurrentThreadCpuTime() : System.nanoTime();
            if (i >= WARMUP) ms[i - WARMUP] = (t1 - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[RUNS / 2];
    }

    private static List<DistillationSample> samples(SplittableRandom r) {
        List<DistillationSample> out = new ArrayList<>();
        for (int s = 0; s < BATCH; s++) {
            int[] tokens = new int[TOKENS];
            for (int i = 0; i < TOKENS; i++) tokens[i] = r.nextInt(SHAPE.vocabSize());
            int[] positions = new int[POSITIONS];
            for (int i = 0; i < POSITIONS; i++) positions[i] = TOKENS - POSITIONS + i;
            int[] ids = new int[POSITIONS * TOP_K];
            float[] logits = new float[POSITIONS * TOP_K];
            float[] logZ = new float[POSITIONS];
            boolean[] rejected = new boolean[POSITIONS];
            for (int i = 0; i < POSITIONS; i++) {
                int first = r.nextInt(SHAPE.vocabSize() - TOP_K);
                for (int k = 0; k < TOP_K; k++) {
                    ids[i * TOP_K + k] = first + k;
                    logits[i * TOP_K + k] = 8f - k * 0.25f;
                }
                logZ[i] = 9f;
                rejected[i] = r.nextInt(3) == 0;
            }
            out.add(new DistillationSample("bench", 0, tokens, positions, TOP_K, ids, logits, logZ, rejected));
        }
        return out;
    }
}
