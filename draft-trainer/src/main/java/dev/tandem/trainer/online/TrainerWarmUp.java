package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.idle.TrainingTask;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftRegistry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Runs the online trainer's code once before it trains for real: distillation steps, a candidate's evaluation and its
 * publication, on a random draft shaped like the node's drafts (small vocabulary) and synthetic samples, in a
 * registry of its own (a temporary directory, deleted after). The JIT compiles that code while it runs. Without
 * this it compiled in the first idle gaps between requests of a fresh node, on compiler threads of normal priority
 * that the trainer's idle CPU class does not cover (thread CPU accounting of a fresh {@code cluster up} showed C2
 * compiling while the first requests were served).
 *
 * <p>As a {@link TrainingTask} it wraps the real one: each call runs one step of the warm-up, and once the warm-up is
 * done every call goes to the real task. Its steps do not wait for the governor ({@link #waitsForIdle}) when the
 * training threads are in the idle CPU class: a fresh cluster's gateway warm-up keeps sequences running until it
 * reports SERVING, so a warm-up gated like training ran only after that, with the first clients (9 and 35 s after
 * SERVING on the two workers of a fresh {@code cluster up}); in the idle class it takes the CPU time the gateway's
 * warm-up leaves, before the clients come.
 * While the node has no draft to take the shape of, calls go to the real task (which trains nothing without a draft
 * but finishes recorded samples). A warm-up that fails ends there ({@link #failure()}); the trainer goes on.
 */
public final class TrainerWarmUp implements TrainingTask {

    /** The warm-up's traffic class: its own registry, so nothing of it is ever served. */
    static final String CLASS = "warm-up";
    /** Vocabulary and head of the warm-up draft: the kernels do not depend on them, memory and time do. */
    private static final int VOCAB = 1024;
    private static final int HEAD = 512;
    private static final int SEQ_LEN = 64;
    private static final int SAMPLES = 96;
    private static final int SAMPLE_TOKENS = 48;
    private static final long SEED = 0x7EA1;

    private final TrainerSettings settings;
    private final Supplier<Optional<DraftConfig>> shape;
    private final TrainingTask next;
    private final int maxSteps;
    private OnlineTrainer trainer;
    private Path dir;
    private volatile int steps;
    private volatile boolean done;
    private volatile RuntimeException failure;

    /**
     * @param shape    the config of a draft the node trains (empty while it has none)
     * @param maxSteps warm-up steps at most (0: none); it also ends after its first evaluation
     */
    public TrainerWarmUp(TrainerSettings settings, Supplier<Optional<DraftConfig>> shape, int maxSteps, TrainingTask next) {
        if (maxSteps < 0) throw new IllegalArgumentException("warm-up steps must be >= 0, got " + maxSteps);
        this.settings = settings;
        this.shape = shape;
        this.next = next;
        this.maxSteps = maxSteps;
        this.done = maxSteps == 0;
    }

    /** The config of the registry's general draft, or of any live one. */
    public static Supplier<Optional<DraftConfig>> shapeOf(DraftRegistry registry) {
        return () -> registry.live(DraftModel.GENERAL_CLASS).or(() -> registry.inMemory().stream().findFirst()).map(DraftModel::config);
    }

    /** Whether the warm-up has finished (or was off). */
    public boolean done() { return done; }

    /** What ended the warm-up early, if it failed (null otherwise). */
    public RuntimeException failure() { return failure; }

    /** Warm-up steps run. */
    public int steps() { return steps; }

    /** Warm-up steps are not training: they need not wait for idle serving; the real task's steps do. */
    @Override
    public boolean waitsForIdle() {
        if (done) return true;
        if (trainer != null) return false;
        try {
            return shape.get().isEmpty(); // without a shape, calls go to the real task
        } catch (RuntimeException e) {
            return true; // step() records the failure
        }
    }

    @Override
    public boolean step() {
        if (done) return next.step();
        DraftConfig shapeNow = null;
        if (trainer == null) {
            try {
                shapeNow = shape.get().orElse(null);
            } catch (RuntimeException e) {
                return failed(e);
            }
            if (shapeNow == null) return next.step(); // it trains nothing without a draft, but finishes recorded samples
        }
        try {
            if (trainer == null) start(shapeNow);
            trainer.step();
            steps++;
            if (steps >= maxSteps || !trainer.events().isEmpty()) finish();
            return true;
        } catch (RuntimeException e) {
            return failed(e);
        }
    }

    /** The warm-up is an optimization: a failure of its own ends it, never the trainer (the caller logs it). */
    private boolean failed(RuntimeException e) {
        failure = e;
        finish();
        return true;
    }

    private void start(DraftConfig real) {
        int vocab = Math.min(real.vocabSize(), VOCAB);
        int head = Math.min(real.headSize(), Math.min(vocab, HEAD));
        DraftConfig c = new DraftConfig(real.dim(), real.hiddenDim(), real.nLayers(), real.nHeads(), real.nKvHeads(), vocab, head,
                Math.min(real.seqLen(), SEQ_LEN), real.normEps(), real.ropeTheta());
        try {
            dir = Files.createTempDirectory("tandem-trainer-warm-up");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the trainer warm-up's directory", e);
        }
        DraftRegistry registry = DraftRegistry.open(dir);
        registry.adopt(DraftModel.GENERAL_CLASS, DraftModel.random(c, ReducedVocabulary.firstTokens(head, vocab), SEED),
                AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, System.currentTimeMillis(), "trainer warm-up");
        ReplayBuffers buffers = ReplayBuffers.of(settings);
        SplittableRandom random = new SplittableRandom(SEED);
        int topK = Math.min(settings.topK(), vocab);
        for (int i = 0; i < SAMPLES; i++) buffers.accept(sample(random, vocab, Math.min(SAMPLE_TOKENS, c.seqLen()), topK));
        trainer = new OnlineTrainer(settings, buffers, registry);
    }

    /** A random sequence with a teacher at every position: random logits, sorted, ties to the lower id. */
    private static DistillationSample sample(SplittableRandom r, int vocab, int length, int topK) {
        int[] tokens = new int[length];
        for (int i = 0; i < length; i++) tokens[i] = r.nextInt(vocab);
        int n = length - 1;
        int[] positions = new int[n];
        int[] ids = new int[n * topK];
        float[] logits = new float[n * topK];
        float[] logNormalizers = new float[n];
        boolean[] rejected = new boolean[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i + 1;
            int[] picked = r.ints(0, vocab).distinct().limit(topK).toArray();
            float[] values = new float[topK];
            for (int j = 0; j < topK; j++) values[j] = (float) (r.nextDouble() * 8 - 4);
            Integer[] order = new Integer[topK];
            for (int j = 0; j < topK; j++) order[j] = j;
            Arrays.sort(order, Comparator.<Integer>comparingDouble(j -> -values[j]).thenComparingInt(j -> picked[j]));
            double sum = 0;
            for (int j = 0; j < topK; j++) {
                ids[i * topK + j] = picked[order[j]];
                logits[i * topK + j] = values[order[j]];
                sum += Math.exp(values[j]);
            }
            // The other tokens hold some mass too: the normalizer exceeds the top-k's.
            logNormalizers[i] = (float) Math.log(sum * 1.5);
            rejected[i] = r.nextInt(4) == 0;
        }
        return new DistillationSample(CLASS, System.currentTimeMillis(), tokens, positions, topK, ids, logits, logNormalizers, rejected);
    }

    private void finish() {
        done = true;
        trainer = null;
        Path d = dir;
        dir = null;
        if (d == null) return;
        try (Stream<Path> files = Files.walk(d)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // A leftover temporary directory is harmless; training goes on.
        }
    }
}
