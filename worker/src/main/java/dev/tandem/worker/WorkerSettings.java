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
 */
public record WorkerSettings(Map<String, String> models, int threads, long memoryBudgetBytes, String stageDispatcher,
                             int initialBatchRows, int maxStepRows, int benchmarkSize, Duration benchmarkDuration) {

    public static final String PATH = "tandem.worker";

    public WorkerSettings {
        models = Map.copyOf(models);
        if (threads < 0) throw new IllegalArgumentException("tandem.worker.threads must be >= 0, got " + threads);
        if (memoryBudgetBytes < 0) throw new IllegalArgumentException("tandem.worker.memory-budget must be >= 0");
        if (initialBatchRows < 1 || maxStepRows < 1) {
            throw new IllegalArgumentException("tandem.worker batch row limits must be positive");
        }
        if (benchmarkSize < 1) throw new IllegalArgumentException("tandem.worker.benchmark.size must be positive");
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
                c.getInt("benchmark.size"), c.getDuration("benchmark.duration"));
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
                benchmarkSize, benchmarkDuration);
    }

    public WorkerSettings withMemoryBudget(long bytes) {
        return new WorkerSettings(models, threads, bytes, stageDispatcher, initialBatchRows, maxStepRows,
                benchmarkSize, benchmarkDuration);
    }
}
