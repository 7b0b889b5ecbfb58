package dev.tandem.ops;

import dev.tandem.engine.bench.EngineBenchmark;
import dev.tandem.engine.bench.EngineBenchmarkResult;
import dev.tandem.engine.jit.JitFailureLog;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.OpenedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "engine", mixinStandardHelpOptions = true,
        description = {"Speed of the in-process engine after warm-up: single-stream decode (256",
                "tokens), prefill of a 128-token prompt, the cost of verifying k = 1..8 tokens",
                "in one forward relative to one, and aggregate decode throughput with 4 and 16",
                "concurrent sequences: medians of several runs. The runs go in rounds of every",
                "measurement; the ratios (verify_cost_ratio, batch4_vs_single,",
                "batch16_vs_single) are medians of the ratios within a round, so that a machine",
                "whose speed drifts does not skew them."})
public final class EngineBenchCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Option(names = "--threads", description = "Threads for the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : Threads.validate(threads);
        if (EngineSettings.load().jitFailureLog()) JitFailureLog.start();
        try (OpenedModel opened = model.open()) {
            OtherTandemProcesses.warning().ifPresent(w -> System.err.println("tandem: " + w));
            if (!json) System.err.println("tandem: benchmarking " + opened.name() + " with " + n + " threads...");
            EngineBenchmarkResult result = new EngineBenchmark(opened.model(), n).run();
            System.out.println(json ? result.toJson() : result.toText());
        }
        return 0;
    }
}
