package dev.tandem.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Typed view of {@code tandem.worker} (defaults in this module's {@code reference.conf}).
 *
 * @param models            served model name -> model spec ("default" or a path), as
 *                          {@link dev.tandem.engine.model.OpenedModel#open} takes it
 * @param threads           compute threads of each stage's {@link dev.tandem.engine.parallel.ParallelRunner}
 *                          (0 = the available processors)
 * @param memoryBudgetBytes memory this worker offers for layers plus KV caches (0 = the JVM's max heap)
 * @param stageDispatcher   config path of the dispatcher that runs the stage actors (CPU-heavy work)
 * @param initialBatchRows  rows the stage buffers are sized for at start (they grow when needed)
 * @param maxStepRows       most rows one forward step may carry; larger steps are refused
 * @param benchmarkSize     width of the square matrix of the start-up speed benchmark
 * @param benchmarkDuration how long the start-up speed benchmark runs at most
 * @param declaredSpeedGflops speed to report instead of measuring it (0 = measure); for heterogeneous nodes
 *                          whose operator knows better, and for deterministic placement in tests
 * @param warmUpPrefillRows rows of the prefill-shaped forward a new stage runs before it is switched in
 * @param warmUpDecodeSteps single-row forwards a new stage runs after that (so the decoding path is compiled)
 * @param warmUpStepCodecs  round trips of each made-up step message through the node's serializers when it starts
 *                          (0 = none; see {@code StepCodecWarmUp})
 * @param warmUpKernels     how long a new stage's background kernel warm-up may run at most (0 = none; see
 *                          {@link dev.tandem.engine.llama.StageKernelWarmUp})
 * @param kvCacheMaxBytes   KV cache bytes all stages of this worker may hold together (0 = a share of the heap)
 * @param kvCacheHeapShare  that share of the JVM's maximum heap when {@code kvCacheMaxBytes} is 0
 */
public record WorkerSettings(Map<String, String> models, int threads, long memoryBudgetBytes, String stageDispatcher,
                             int initialBatchRows, int maxStepRows, int benchmarkSize, Duration benchmarkDuration,
                             double declaredSpeedGflops, int warmUpPrefillRows, int warmUpDecodeSteps,
                             Duration warmUpKernels, long kvCacheMaxBytes, double kvCacheHeapShare, int warmUpStepCodecs) {

    public static final String PATH = "tandem.worker";

    public WorkerSettings {
        models = Map.copyOf(models);
        if (threads < 0) throw new IllegalArgumentException("tandem.worker.threads must be >= 0, got " + threads);
        if (memoryBudgetBytes < 0) throw new IllegalArgumentException("tandem.worker.memory-budget must be >= 0");
        if (initialBatchRows < 1 || maxStepRows < 1) {
            throw new IllegalArgumentException("tandem.worker batch row limits must be positive");
        }
        if (benchmarkSize < 1) throw new IllegalArgumentException("tandem.worker.benchmark.size must be positive");
        if (declaredSpeedGflops < 0) throw new IllegalArgumentException("tandem.worker.declared-speed-gflops must be >= 0");
        if (warmUpPrefillRows < 1 || warmUpDecodeSteps < 0) {
            throw new IllegalArgumentException("tandem.worker.warm-up needs prefill-rows >= 1 and decode-steps >= 0");
        }
        if (warmUpKernels.isNegative()) throw new IllegalArgumentException("tandem.worker.warm-up.kernels must be >= 0");
        if (warmUpStepCodecs < 0) throw new IllegalArgumentException("tandem.worker.warm-up.step-codecs must be >= 0");
        if (kvCacheMaxBytes < 0) throw new IllegalArgumentException("tandem.worker.kv-cache.max-bytes must be >= 0");
        if (!(kvCacheHeapShare > 0 && kvCacheHeapShare <= 1)) {
            throw new IllegalArgumentException("tandem.worker.kv-cache.heap-share must be in (0, 1], got " + kvCacheHeapShare);
        }
    }

    /** Reads {@code tandem.worker} from a config that has this module's reference.conf merged in. */
    public static WorkerSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        Map<String, String> models = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigValue> e : c.getConfig("models").root().entrySet()) {
            models.put(e.getKey(), String.valueOf(e.getValue().unwrapped()));
        }
        return new WorkerSettings(models, c.getInt("threads"), c.getBytes("memory-budget"),
                c.getString("stage-dispatcher-path"), c.getInt("initial-batch-rows"), c.getInt("max-step-rows"),
                c.getInt("benchmark.size"), c.getDuration("benchmark.duration"), c.getDouble("declared-speed-gflops"),
                c.getInt("warm-up.prefill-rows"), c.getInt("warm-up.decode-steps"), c.getDuration("warm-up.kernels"),
                c.getBytes("kv-cache.max-bytes"), c.getDouble("kv-cache.heap-share"), c.getInt("warm-up.step-codecs"));
    }

    /** KV bytes this worker's stages may hold together: the configured bytes, or the share of the maximum heap. */
    public long effectiveKvCacheBytes() {
        return kvCacheMaxBytes > 0 ? kvCacheMaxBytes : (long) (Runtime.getRuntime().maxMemory() * kvCacheHeapShare);
    }

    /** Threads per stage, with 0 resolved to the available processors. */
    public int effectiveThreads() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }

    /** The memory budget, with 0 resolved to the JVM's maximum heap. */
    public long effectiveMemoryBudget() {
        return memoryBudgetBytes == 0 ? Runtime.getRuntime().maxMemory() : memoryBudgetBytes;
    }

    public Optional<String> specOf(String model) {
        return Optional.ofNullable(models.get(model));
    }

    public WorkerSettings withThreads(int newThreads) {
        return new WorkerSettings(models, newThreads, memoryBudgetBytes, stageDispatcher, initialBatchRows, maxStepRows,
                benchmarkSize, benchmarkDuration, declaredSpeedGflops, warmUpPrefillRows, warmUpDecodeSteps,
                warmUpKernels, kvCacheMaxBytes, kvCacheHeapShare, warmUpStepCodecs);
    }

    public WorkerSettings withKvCacheMaxBytes(long bytes) {
        return new WorkerSettings(models, threads, memoryBudgetBytes, stageDispatcher, initialBatchRows, maxStepRows,
                benchmarkSize, benchmarkDuration, declaredSpeedGflops, warmUpPrefillRows, warmUpDecodeSteps,
                warmUpKernels, bytes, kvCacheHeapShare, warmUpStepCodecs);
    }

    public WorkerSettings withMemoryBudget(long bytes) {
        return new WorkerSettings(models, threads, bytes, stageDispatcher, initialBatchRows, maxStepRows,
                benchmarkSize, benchmarkDuration, declaredSpeedGflops, warmUpPrefillRows, warmUpDecodeSteps,
                warmUpKernels, kvCacheMaxBytes, kvCacheHeapShare, warmUpStepCodecs);
    }
}
