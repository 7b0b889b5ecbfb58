package dev.tandem.ops;

import dev.tandem.engine.bench.LocalSpeculationRunner;
import dev.tandem.engine.bench.SpeculationBenchmark;
import dev.tandem.engine.bench.SpeculationBenchmarkResult;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.spec.Proposers;
import dev.tandem.engine.spec.SpeculationOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "spec", mixinStandardHelpOptions = true,
        description = {"Speculative decoding on story prompts (greedy): for each proposer, single stream and 8 streams",
                "batched per step, the acceptance rate, tokens per step, tok/s and the speedup over 'none' measured in",
                "the same run; 'lossless' checks every output against none's. Mode: local (in this process)."})
public final class SpecBenchCommand implements Callable<Integer> {

    /** Without a checkpoint, the draft is cut from the target: half its layers and a head over the first ids. */
    static final int BOOTSTRAP_HEAD_TOKENS = 4096;

    @Mixin
    ModelOptions model;

    @Option(names = "--threads", description = "Threads for the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Option(names = "--requests", defaultValue = "" + SpeculationBenchmark.DEFAULT_REQUESTS,
            description = "Requests per configuration. Default: ${DEFAULT-VALUE}.")
    int requests;

    @Option(names = "--tokens", defaultValue = "" + SpeculationBenchmark.DEFAULT_NEW_TOKENS,
            description = "Max new tokens per request. Default: ${DEFAULT-VALUE}.")
    int tokens;

    @Option(names = "--streams", split = ",", defaultValue = "1,8", description = "Concurrent streams to measure. Default: ${DEFAULT-VALUE}.")
    List<Integer> streams;

    @Option(names = "--proposers", split = ",", defaultValue = "none,ngram,draft,layerskip,auto",
            description = "Proposers to measure ('none' is always measured first). Default: ${DEFAULT-VALUE}.")
    List<String> proposers;

    @Option(names = "--rounds", defaultValue = "" + SpeculationBenchmark.DEFAULT_ROUNDS,
            description = "Measured rounds per configuration, each over --requests fresh prompts, proposers in alternating order. Default: ${DEFAULT-VALUE}.")
    int rounds;

    @Option(names = "--warmup", defaultValue = "" + SpeculationBenchmark.DEFAULT_WARMUP_ROUNDS,
            description = "Least warm-up rounds before measuring (more run until the speed is stable; 0: none). Default: ${DEFAULT-VALUE}.")
    int warmup;

    @Mixin
    SpeculateOptions speculate;

    @Override
    public Integer call() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : Threads.validate(threads);
        if (requests < 1 || tokens < 1) throw CommandFailure.usage("--requests and --tokens must be positive");
        if (rounds < 1) throw CommandFailure.usage("--rounds must be positive, got " + rounds);
        if (warmup < 0) throw CommandFailure.usage("--warmup must be >= 0, got " + warmup);
        for (int s : streams) if (s < 1) throw CommandFailure.usage("--streams must be positive, got " + s);
        List<String> names = new java.util.ArrayList<>(List.of("none"));
        for (String p : proposers) {
            String name = p.toLowerCase(Locale.ROOT);
            if (!Proposers.NAMES.contains(name)) throw CommandFailure.usage("unknown proposer '" + p + "'; expected one of " + Proposers.NAMES);
            if (!names.contains(name)) names.add(name);
        }
        SpeculationOptions options = speculate.options();
        try (OpenedModel opened = model.open()) {
            DraftModel draft = speculate.draftModel();
            String draftSource;
            if (draft != null) {
                draftSource = "checkpoint v" + draft.version() + " (" + draft.trafficClass() + ")";
            } else {
                int layers = Math.max(1, opened.config().nLayers() / 2);
                draft = DraftModel.fromTarget(opened.model().weights(), layers,
                        ReducedVocabulary.firstTokens(BOOTSTRAP_HEAD_TOKENS, opened.config().vocabSize()));
                draftSource = "cut from the target (first " + layers + " layers, head over " + draft.vocabulary().size()
                        + " tokens; no checkpoint)";
            }
            if (!json) System.err.println("tandem: benchmarking speculation on " + opened.name() + " with " + n + " threads...");
            try (LocalSpeculationRunner local = new LocalSpeculationRunner(opened.model().weights(), opened.tokenizer(), n, draft,
                    speculate.layerSkipLayers, options)) {
                List<SpeculationBenchmarkResult.Row> rows = new SpeculationBenchmark(local,
                        new SpeculationBenchmark.Settings(names, streams, requests, tokens, warmup, rounds)).run();
                SpeculationBenchmarkResult result = new SpeculationBenchmarkResult(rows, opened.name(), draftSource, n, requests * rounds, tokens);
                System.out.print(json ? result.toJson() + "\n" : result.toText());
            }
        }
        return 0;
    }
}
