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
                "the same run; 'lossless' checks every output against none's. Modes: local (in this process) and",
                "cluster (a local cluster of separate JVMs, 1 coordinator + 2 workers, through gRPC; the proposer runs",
                "on the coordinator, the last worker verifies). Logs of the cluster: $TANDEM_HOME/bench-spec/logs."})
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

    @Option(names = "--mode", defaultValue = "both", paramLabel = "local|cluster|both",
            description = "Where to measure. Default: ${DEFAULT-VALUE}.")
    String mode;

    @Option(names = "--target", paramLabel = "HOST:PORT",
            description = "Cluster mode against a running cluster (its own drafts and settings) instead of starting one.")
    String target;

    private static final int CLUSTER_WORKERS = 2;
    private static final java.time.Duration CLUSTER_READY = java.time.Duration.ofSeconds(180);
    private static final java.time.Duration CLUSTER_STOP_GRACE = java.time.Duration.ofSeconds(20);

    @Override
    public Integer call() throws InterruptedException {
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
        String m = mode.toLowerCase(Locale.ROOT);
        if (!List.of("local", "cluster", "both").contains(m)) throw CommandFailure.usage("--mode must be local, cluster or both, got '" + mode + "'");
        boolean local = !m.equals("cluster");
        boolean cluster = !m.equals("local");
        if (target != null && !cluster) throw CommandFailure.usage("--target needs --mode cluster or both");
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
            SpeculationBenchmark.Settings settings = new SpeculationBenchmark.Settings(names, streams, requests, tokens, warmup, rounds);
            List<SpeculationBenchmarkResult.Row> rows = new java.util.ArrayList<>();
            if (local) {
                try (LocalSpeculationRunner runner = new LocalSpeculationRunner(opened.model().weights(), opened.tokenizer(), n, draft,
                        speculate.layerSkipLayers, options)) {
                    rows.addAll(new SpeculationBenchmark(runner, settings).run());
                }
            }
            if (cluster) rows.addAll(clusterRows(settings, draft, n));
            SpeculationBenchmarkResult result = new SpeculationBenchmarkResult(rows, opened.name(), draftSource, n, requests * rounds, tokens);
            System.out.print(json ? result.toJson() + "\n" : result.toText());
        }
        return 0;
    }

    /**
     * The same measurement through a cluster: started here (the draft written to a checkpoint the coordinator
     * reads, k and layerskip as for local) and stopped afterwards, or the one at --target.
     */
    private List<SpeculationBenchmarkResult.Row> clusterRows(SpeculationBenchmark.Settings settings, DraftModel draft, int threads)
            throws InterruptedException {
        if (target != null) {
            try (ClusterSpeculationRunner runner = new ClusterSpeculationRunner(GenerateCommand.parseTarget(target))) {
                return new SpeculationBenchmark(runner, settings).run();
            }
        }
        java.nio.file.Path home = dev.tandem.engine.model.TandemHome.root().resolve("bench-spec");
        java.nio.file.Path checkpoint = home.resolve("bench.draft");
        dev.tandem.engine.draft.DraftCheckpoint.write(checkpoint, draft);
        java.util.Map<String, Object> coordinator = new java.util.LinkedHashMap<>();
        coordinator.put(ServerSpeculationOptions.PATH + "draft-checkpoint", checkpoint.toAbsolutePath().toString());
        coordinator.put(ServerSpeculationOptions.PATH + "max-drafts", speculate.options().maxDrafts());
        coordinator.put(ServerSpeculationOptions.PATH + "layerskip-layers", speculate.layerSkipLayers);
        LocalCluster localCluster = new LocalCluster(home);
        try {
            if (!json) System.err.println("tandem: starting a local cluster (1 coordinator + " + CLUSTER_WORKERS + " worker JVMs)...");
            dev.tandem.cluster.HostAndPort where = localCluster.up(new LocalCluster.Spec(CLUSTER_WORKERS,
                    FreePorts.pick(LocalCluster.HOST), model.model, this.threads == null ? 0 : threads, CLUSTER_READY, coordinator)).grpcTarget();
            try (ClusterSpeculationRunner runner = new ClusterSpeculationRunner(where)) {
                return new SpeculationBenchmark(runner, settings).run();
            }
        } finally {
            localCluster.down(CLUSTER_STOP_GRACE);
        }
    }
}
