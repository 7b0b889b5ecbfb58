package dev.tandem.engine.bench;

import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Measures the engine in one JVM on one whole-model stage: single-stream greedy decode, one-forward
 * prefill, the cost of verifying k tokens in one forward relative to one, and batched decode of 4 and
 * 16 concurrent sequences. Each figure is the median of {@link #RUNS} runs, after a warm-up of at least
 * {@link #WARMUP_SECONDS} that runs every measurement (so that the JIT has compiled every kernel path:
 * single-row, few-row and many-row products are different code) and lasts until a round has run with the greedy
 * screen warm.
 *
 * <p>The runs go in rounds of every measurement, and each ratio (k tokens verified against one, batched decode
 * against one stream) is the median of the ratios within a round. On a shared machine whose speed drifts by tens
 * of percent from one minute to the next, ratios of medians taken a minute apart moved with the drift: 16 streams
 * came out 2.7x and 3.7x one stream in two runs ten minutes apart.
 */
public final class EngineBenchmark {

    public static final int RUNS = 7;
    public static final double WARMUP_SECONDS = 3;
    /** Warm-up stops waiting for the greedy screen after this long (its own warm-up gives up after 20 s). */
    private static final double WARMUP_LIMIT_SECONDS = 60;
    /** Warm-up rounds at least, however fast they are. */
    private static final int WARMUP_ROUNDS = 2;
    /** Tokens of the single-stream decode run, from position 0. */
    public static final int DECODE_TOKENS = 256;
    /** Prompt length of the prefill run. */
    public static final int PREFILL_TOKENS = 128;
    /** Largest number of draft tokens verified in one forward. */
    public static final int MAX_VERIFY = 8;
    /** Cached context before the verified tokens. */
    private static final int VERIFY_CONTEXT = 32;
    /** Forwards averaged in one verification measurement (one forward is too short to time alone). */
    private static final int VERIFY_REPEATS = 40;
    /** Decode steps of a batched run. */
    private static final int BATCH_STEPS = 128;
    private static final int BOS = 1;
    private static final long SEED = 42;

    private final LoadedModel model;
    private final int threads;
    private final ModelConfig config;

    public EngineBenchmark(LoadedModel model, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.model = model;
        this.threads = threads;
        this.config = model.config();
    }

    public EngineBenchmarkResult run() {
        int maxRows = Math.max(PREFILL_TOKENS, 16);
        try (ParallelRunner runner = new ParallelRunner(threads)) {
            LlamaStage stage = new LlamaStage(model.weights(), 0, config.nLayers(), runner, maxRows);
            stage.useGreedyScreen(EngineSettings.load().greedyScreen());
            ForwardBatch batch = new ForwardBatch(config.dim(), maxRows);
            touchWeights(stage, batch);
            warmUp(stage, batch);
            double[] decode = new double[RUNS];
            double[] prefill = new double[RUNS];
            double[][] verify = new double[MAX_VERIFY + 1][RUNS];
            double[] batch4 = new double[RUNS];
            double[] batch16 = new double[RUNS];
            for (int r = 0; r < RUNS; r++) {
                decode[r] = decode(stage, batch);
                prefill[r] = prefill(stage, batch);
                for (int k = 1; k <= MAX_VERIFY; k++) verify[k][r] = verify(stage, batch, k);
                batch4[r] = batchedDecode(stage, batch, 4);
                batch16[r] = batchedDecode(stage, batch, 16);
            }
            TreeMap<Integer, Double> verifyCost = new TreeMap<>();
            for (int k = 1; k <= MAX_VERIFY; k++) verifyCost.put(k, medianRatio(verify[k], verify[1]));
            return new EngineBenchmarkResult(median(decode), median(prefill), verifyCost, median(batch4), median(batch16),
                    medianRatio(batch4, decode), medianRatio(batch16, decode), threads, modelName());
        }
    }

    /** Reads every weight once so that page faults of the mapped file are not timed. */
    private void touchWeights(LlamaStage stage, ForwardBatch batch) {
        batch.clear();
        batch.addToken(0, 0, BOS, true);
        stage.forward(batch);
        stage.cache().release(0);
    }

    private void warmUp(LlamaStage stage, ForwardBatch batch) {
        long start = System.nanoTime();
        // Rounds go on until one has run with the greedy screen warm (its kernels compiled; until then greedy rows
        // take the whole float32 head), so that every measured round runs as serving will.
        boolean screenedRound = false;
        for (int round = 0; round < WARMUP_ROUNDS || seconds(System.nanoTime() - start) < WARMUP_SECONDS || !screenedRound; round++) {
            screenedRound = stage.screenWarm() || seconds(System.nanoTime() - start) > WARMUP_LIMIT_SECONDS;
            decode(stage, batch);
            prefill(stage, batch);
            for (int k = 1; k <= MAX_VERIFY; k++) verify(stage, batch, k);
            batchedDecode(stage, batch, 4);
            batchedDecode(stage, batch, 16);
        }
    }

    /** Greedy decode of {@link #DECODE_TOKENS} tokens from BOS; tokens per second. */
    private double decode(LlamaStage stage, ForwardBatch batch) {
        int steps = Math.min(DECODE_TOKENS, config.seqLen());
        long seq = 1;
        int token = BOS;
        long start = System.nanoTime();
        for (int pos = 0; pos < steps; pos++) {
            batch.clear();
            batch.addToken(seq, pos, token, RowOutput.GREEDY_TOKEN);
            token = stage.forward(batch).argmax(0);
        }
        long elapsed = System.nanoTime() - start;
        stage.cache().release(seq);
        return steps / seconds(elapsed);
    }

    /** One forward of a {@link #PREFILL_TOKENS}-token prompt; tokens per second. */
    private double prefill(LlamaStage stage, ForwardBatch batch) {
        int n = Math.min(PREFILL_TOKENS, config.seqLen());
        int[] prompt = prompt(n);
        long seq = 2;
        batch.clear();
        for (int i = 0; i < n; i++) batch.addToken(seq, i, prompt[i], i == n - 1);
        long start = System.nanoTime();
        stage.forward(batch);
        long elapsed = System.nanoTime() - start;
        stage.cache().release(seq);
        return n / seconds(elapsed);
    }

    /** Mean seconds of one forward verifying k tokens greedily (each row's argmax) after a cached context. */
    private double verify(LlamaStage stage, ForwardBatch batch, int k) {
        long seq = 3;
        int[] tokens = prompt(VERIFY_CONTEXT + k);
        batch.clear();
        for (int i = 0; i < VERIFY_CONTEXT; i++) batch.addToken(seq, i, tokens[i], false);
        stage.forward(batch);
        long total = 0;
        for (int rep = 0; rep < VERIFY_REPEATS; rep++) {
            batch.clear();
            for (int i = 0; i < k; i++) batch.addToken(seq, VERIFY_CONTEXT + i, tokens[VERIFY_CONTEXT + i], RowOutput.GREEDY_TOKEN);
            long start = System.nanoTime();
            stage.forward(batch);
            total += System.nanoTime() - start;
            stage.cache().truncate(seq, VERIFY_CONTEXT);
        }
        stage.cache().release(seq);
        return seconds(total) / VERIFY_REPEATS;
    }

    /** {@code streams} sequences decoding greedily, one batched forward per step; aggregate tokens per second. */
    private double batchedDecode(LlamaStage stage, ForwardBatch batch, int streams) {
        int steps = Math.min(BATCH_STEPS, config.seqLen() - 1);
        long firstSeq = 100;
        int[] next = new int[streams];
        // Each sequence starts from BOS and a different second token, so the streams differ.
        batch.clear();
        for (int s = 0; s < streams; s++) {
            batch.addToken(firstSeq + s, 0, BOS, false);
            batch.addToken(firstSeq + s, 1, 1000 + 37 * s, RowOutput.GREEDY_TOKEN);
        }
        StageOutput out = stage.forward(batch);
        for (int s = 0; s < streams; s++) next[s] = out.argmax(2 * s + 1);
        long start = System.nanoTime();
        for (int step = 0; step < steps - 2; step++) {
            batch.clear();
            for (int s = 0; s < streams; s++) batch.addToken(firstSeq + s, 2 + step, next[s], RowOutput.GREEDY_TOKEN);
            out = stage.forward(batch);
            for (int s = 0; s < streams; s++) next[s] = out.argmax(s);
        }
        long elapsed = System.nanoTime() - start;
        for (int s = 0; s < streams; s++) stage.cache().release(firstSeq + s);
        return (double) streams * (steps - 2) / seconds(elapsed);
    }

    private int[] prompt(int n) {
        SplittableRandom random = new SplittableRandom(SEED);
        int[] tokens = new int[n];
        tokens[0] = BOS;
        for (int i = 1; i < n; i++) tokens[i] = 3 + random.nextInt(config.vocabSize() - 3); // past the special tokens
        return tokens;
    }

    private String modelName() {
        Path file = model.source().getFileName();
        String name = file == null ? model.source().toString() : file.toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        Path parent = model.source().getParent();
        if (stem.equals("model") && parent != null && parent.getFileName() != null) return parent.getFileName().toString();
        return stem;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /** The median over rounds of {@code a[r] / b[r]}. */
    private static double medianRatio(double[] a, double[] b) {
        double[] ratios = new double[a.length];
        for (int r = 0; r < a.length; r++) ratios[r] = a[r] / b[r];
        return median(ratios);
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** Usage: {@code EngineBenchmark [threads] [model.bin]}; prints the text report, then the JSON line. */
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        Path file = args.length > 1 ? Path.of(args[1]) : TandemHome.defaultModelDir().resolve("model.bin");
        try (LoadedModel model = Llama2cModelLoader.load(file).placed(EngineSettings.load().weightsMemory())) {
            EngineBenchmarkResult result = new EngineBenchmark(model, threads).run();
            System.out.print(result.toText());
            System.out.println(result.toJson());
        }
    }
}
