package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeRole;
import dev.tandem.cluster.drafts.DraftsSettings;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.protocol.grpc.InferenceClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Serving speed of a local two-worker cluster against the in-process engine, measured in one run:
 * single-stream decode through the pipeline and in process, aggregate throughput with 4 and 16
 * concurrent streams, and the client-side distributions of time to first token and inter-token latency.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Serving speed of a cluster against the in-process engine.",
                "",
                "Measured in one run: single-stream decode tok/s through the cluster and in this process "
                        + "(LocalGenerator), aggregate tok/s with 4 and 16 concurrent streams, and p50/p99 time to first "
                        + "token and inter-token latency (client-side), and the first single stream before the bench's "
                        + "warm-up (cold). Starts a local cluster of separate JVMs "
                        + "(1 coordinator + 2 workers, logs in $TANDEM_HOME/bench-cluster/logs) and stops it afterwards, "
                        + "or attaches to one with --target. Greedy decoding; medians over --runs."})
public final class BenchClusterCommand implements Callable<Integer> {

    private static final String SINGLE_PROMPT = "Once upon a time";
    private static final int BENCH_WORKERS = 2;
    private static final String ROUND_TRIP = "tandem_step_round_trip_ms";
    private static final String STAGE_FORWARD = "tandem_stage_step_latency_ms";
    /** The stage metrics' label naming a stage's layers. */
    private static final String STAGE_LAYERS = "layers";
    private static final int SMALL_BATCH = 4;
    private static final int LARGE_BATCH = 16;
    /** The speculative single streams of the warm-up take this fraction (1/n) of its time, after the rest. */
    private static final int SPECULATIVE_WARM_UP_SHARE = 4;
    private static final int LOCAL_WARM_UP_RUNS = 3;
    /**
     * The in-process engine warms up for this fraction (1/n) of the warm-up time too (at least
     * {@link #LOCAL_WARM_UP_RUNS} runs, and one with the greedy screen warm): with three runs alone, its kernels were
     * still being compiled while it was measured, and it decoded at 275 tok/s against 534 in {@code bench engine}
     * minutes before.
     */
    private static final int LOCAL_WARM_UP_SHARE = 4;
    private static final long LOCAL_WARM_UP_LIMIT_NANOS = 60_000_000_000L;
    private static final Duration STOP_GRACE = Duration.ofSeconds(20);

    @Option(names = "--target", paramLabel = "HOST:PORT", description = "Attach to a running cluster instead of starting one.")
    String target;

    @Option(names = "--max-tokens", defaultValue = "128", description = "New tokens per stream. Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = "--runs", defaultValue = "5", description = {"Measured runs per figure (after one warm-up); the single-stream "
            + "runs through the cluster alternate with runs in this process. Default: ${DEFAULT-VALUE}."})
    int runs;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Option(names = "--warm-up", defaultValue = "20", paramLabel = "SECONDS",
            description = {"Serve 16 concurrent streams this long before measuring, so that the step path (serializers, "
                    + "transport, stages) runs JIT-compiled as it does in a server that has been up a while; then a quarter as long "
                    + "single streams with --spec-proposer (its draft forwards and verification rows). Default: ${DEFAULT-VALUE}."})
    int warmUpSeconds;

    @Option(names = "--spec-proposer", defaultValue = "draft", paramLabel = "draft|ngram|layerskip|auto|none",
            description = {"Proposer of the extra single-stream figure with speculative decoding (same greedy output, "
                    + "fewer pipeline round trips); skipped with 'none', or when the coordinator has no draft model for "
                    + "'draft'. Default: ${DEFAULT-VALUE}."})
    String specProposer;

    @Mixin
    ClusterStartOptions start;

    @Override
    public Integer call() throws InterruptedException {
        if (maxTokens < 2) throw CommandFailure.usage("--max-tokens must be at least 2, got " + maxTokens);
        if (runs < 1) throw CommandFailure.usage("--runs must be at least 1, got " + runs);
        if (warmUpSeconds < 0) throw CommandFailure.usage("--warm-up must be at least 0 seconds, got " + warmUpSeconds);
        specProposer = specProposer.toLowerCase(Locale.ROOT);
        if (!dev.tandem.engine.spec.Proposers.NAMES.contains(specProposer)) {
            throw CommandFailure.usage("--spec-proposer must be one of " + String.join(", ", dev.tandem.engine.spec.Proposers.NAMES)
                    + ", got '" + specProposer + "'");
        }
        OpenedModel opened = OpenedModel.open(OpenedModel.DEFAULT_SPEC, null, new CliProgress("model"));
        LocalCluster cluster = new LocalCluster(TandemHome.root().resolve("bench-cluster"));
        HostAndPort where;
        List<String> coordinatorMetrics = List.of();
        List<String> workerMetrics = List.of();
        try {
            if (target != null) {
                where = GenerateCommand.parseTarget(target);
                // Attached to the cluster that `cluster up` started: its nodes' metrics are known too.
                HostAndPort attached = where;
                var local = LocalCluster.standard().read().filter(s -> s.grpcTarget().equals(attached));
                if (local.isPresent()) {
                    coordinatorMetrics = metricsUrls(local.get(), true);
                    workerMetrics = metricsUrls(local.get(), false);
                }
            } else {
                OtherTandemProcesses.warning().ifPresent(this::log);
                log("starting a local cluster (1 coordinator + " + BENCH_WORKERS + " worker JVMs)...");
                warnWithoutTrainedDraft();
                // Serving speed only: the draft trainer would use the idle time between runs and compete with the
                // in-process measurement (bench osd measures the trainer).
                LocalCluster.State state = cluster.up(start.applyTo(new LocalCluster.Spec(BENCH_WORKERS,
                        FreePorts.pick(LocalCluster.HOST), OpenedModel.DEFAULT_SPEC, start.threadsPerWorker(), start.readyTimeout(),
                        start.security).withNodeConfig(Map.of(DraftsSettings.TRAIN_KEY, "off"))));
                where = state.grpcTarget();
                coordinatorMetrics = metricsUrls(state, true);
                workerMetrics = metricsUrls(state, false);
            }
            Map<String, Object> result = measure(opened, where, coordinatorMetrics, workerMetrics);
            System.out.println(json ? Json.write(result) : table(result));
        } finally {
            if (target == null) cluster.down(STOP_GRACE);
            opened.close();
        }
        return 0;
    }

    /**
     * The cluster's coordinator serves the drafts under the Tandem home; with none there it has only a draft cut from
     * the target, which it soon stops using, so the speculative figure says little: says so, and how to get one.
     */
    private void warnWithoutTrainedDraft() {
        if (!specProposer.equals("draft") && !specProposer.equals("auto")) return;
        java.nio.file.Path drafts = TandemHome.root().resolve("drafts");
        if (java.nio.file.Files.isDirectory(drafts) && DraftRegistry.open(drafts).live(DraftModel.GENERAL_CLASS).isPresent()) return;
        log("no trained draft under " + drafts + ": the speculative run has only a draft cut from the target, which the "
                + "coordinator soon stops using (`tandem draft bootstrap` trains one)");
    }

    private static List<String> metricsUrls(LocalCluster.State state, boolean coordinator) {
        return state.nodes().stream().filter(n -> n.roles().contains(NodeRole.COORDINATOR.roleName()) == coordinator)
                .map(LocalCluster.Node::metricsUrl).filter(u -> !u.isEmpty()).toList();
    }

    private Map<String, Object> measure(OpenedModel opened, HostAndPort where, List<String> coordinatorMetrics,
                                        List<String> workerMetrics) {
        ActorSystem<Void> system = ClientSystem.create("tandem-bench-cluster");
        InferenceClient client = InferenceClient.create(ClientSystem.settings(system, where), system);
        List<Double> ttfts = new ArrayList<>();
        List<Double> itls = new ArrayList<>();
        try {
            // The first request, before this bench warms anything up: on a cluster it started, right after health said
            // SERVING (after the gateway's own warm-up, tandem.gateway.warm-up), from this cold client.
            RemoteStream.Result first = runSingle(system, client, "");
            log("warming up (" + warmUpSeconds + " s of " + LARGE_BATCH + " streams)...");
            long warmUntil = System.nanoTime() + warmUpSeconds * 1_000_000_000L;
            batch(system, client, SMALL_BATCH, null, null);
            while (System.nanoTime() < warmUntil) batch(system, client, LARGE_BATCH, null, null);
            single(system, client, null, null);
            warmUpSpeculation(system, client);

            double[] clusterSingle = new double[runs];
            double[] localSingle = new double[runs];
            double[] pairRatio = new double[runs];
            MetricsScrape scrape = new MetricsScrape();
            MetricsScrape.Totals roundTrip0;
            Map<String, MetricsScrape.Totals> stageForward0;
            log("warming up the in-process engine...");
            try (LocalSingle local = new LocalSingle(opened, warmUpSeconds * 1_000_000_000L / LOCAL_WARM_UP_SHARE)) {
                // The machine's speed drifts by tens of percent from minute to minute (shared host): cluster and
                // in-process runs alternate, and their ratio is the median of each pair's.
                log("single stream through the cluster and in this process, alternately...");
                roundTrip0 = scrape.histogram(coordinatorMetrics, ROUND_TRIP);
                stageForward0 = scrape.histogramByLabel(workerMetrics, STAGE_FORWARD, STAGE_LAYERS);
                for (int i = 0; i < runs; i++) {
                    clusterSingle[i] = single(system, client, ttfts, itls);
                    localSingle[i] = local.run();
                    pairRatio[i] = clusterSingle[i] / localSingle[i];
                }
            }
            // Where a single stream's step goes: the stages' forward time, the rest is transport and queueing.
            MetricsScrape.Totals steps = scrape.histogram(coordinatorMetrics, ROUND_TRIP).minus(roundTrip0);
            double roundTrip = steps.mean();
            // Per stage (its layers [from, to), labelled "from-to" by the stage metrics): the plan and its balance;
            // their sum is the step's forward time on the stages.
            Map<String, Double> stageForward = new TreeMap<>(Comparator.comparingInt(BenchClusterCommand::firstLayer)
                    .thenComparing(Comparator.naturalOrder()));
            scrape.histogramByLabel(workerMetrics, STAGE_FORWARD, STAGE_LAYERS).forEach((layers, totals) -> {
                MetricsScrape.Totals before = stageForward0.getOrDefault(layers, new MetricsScrape.Totals(0, 0));
                if (steps.count() > 0 && totals.count() > before.count()) stageForward.put(layers, totals.minus(before).sum() / steps.count());
            });
            double stepForward = steps.count() > 0
                    ? stageForward.values().stream().mapToDouble(Double::doubleValue).sum() : Double.NaN;

            double[] specSingle = new double[runs];
            double[] specTokensPerStep = new double[runs];
            String specUsed = "";
            if (!specProposer.equals("none")) {
                log("single stream through the cluster with speculative decoding (" + specProposer + ")...");
                try {
                    for (int i = 0; i < runs; i++) {
                        RemoteStream.Result r = speculativeSingle(system, client);
                        specSingle[i] = r.decodeTokensPerSecond();
                        specTokensPerStep[i] = r.usage().getSteps() > 0 ? (double) r.completionTokens() / r.usage().getSteps() : 1;
                        specUsed = r.usage().getProposer();
                    }
                } catch (CompletionException e) {
                    log("no speculative figure: " + RemoteFailures.describe(e, where).getMessage());
                    specUsed = "";
                }
            }

            log(SMALL_BATCH + " concurrent streams...");
            double[] batch4 = new double[runs];
            for (int i = 0; i < runs; i++) batch4[i] = batch(system, client, SMALL_BATCH, ttfts, itls);

            log(LARGE_BATCH + " concurrent streams...");
            double[] batch16 = new double[runs];
            for (int i = 0; i < runs; i++) batch16[i] = batch(system, client, LARGE_BATCH, ttfts, itls);

            Map<String, Object> out = new LinkedHashMap<>();
            out.put("target", where.toString());
            out.put("workers", target == null ? BENCH_WORKERS : null);
            out.put("max_tokens", maxTokens);
            out.put("runs", runs);
            out.put("cluster_single_tok_s", median(clusterSingle));
            out.put("local_single_tok_s", median(localSingle));
            out.put("cluster_vs_local", median(pairRatio));
            if (!specUsed.isEmpty()) {
                out.put("cluster_single_speculative_tok_s", median(specSingle));
                out.put("speculative_proposer", specUsed);
                out.put("speculative_tokens_per_step", median(specTokensPerStep));
                out.put("cluster_speculative_vs_local", median(specSingle) / median(localSingle));
            }
            out.put("warm_up_s", warmUpSeconds);
            out.put("first_single_tok_s", first.decodeTokensPerSecond());
            out.put("first_ttft_ms", first.timeToFirstTokenMs());
            out.put("cluster_batch4_tok_s", median(batch4));
            out.put("cluster_batch16_tok_s", median(batch16));
            out.put("batch16_vs_single", median(batch16) / median(clusterSingle));
            out.put("single_step_round_trip_ms", roundTrip);
            out.put("single_step_forward_ms", stepForward);
            out.put("single_step_transport_ms", roundTrip - stepForward);
            out.put("single_step_stage_forward_ms", stageForward);
            out.put("ttft_p50_ms", percentile(ttfts, 50));
            out.put("ttft_p99_ms", percentile(ttfts, 99));
            out.put("itl_p50_ms", percentile(itls, 50));
            out.put("itl_p99_ms", percentile(itls, 99));
            out.put("streams_measured", ttfts.size());
            return out;
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, where);
        } finally {
            client.close();
            ClientSystem.terminate(system, Duration.ofSeconds(5));
        }
    }

    /** One greedy stream of the single-stream prompt with {@code proposer} ("" = the coordinator's default). */
    private RemoteStream.Result runSingle(ActorSystem<?> system, InferenceClient client, String proposer) {
        return RemoteStream.run(system, client, request(SINGLE_PROMPT).toBuilder().setSpeculate(proposer).build(),
                RemoteStream.Listener.NONE).toCompletableFuture().join();
    }

    /**
     * A share of the warm-up spent on single streams with the speculative proposer: its paths (draft forwards and
     * their multi-row catch-ups on the coordinator, verification rows on the stages) need compiling too, and the
     * draft length controller needs measured costs. With one unmeasured run only, a profile found the coordinator
     * still in the Vector API's fallback code (recompiling after a deoptimization) while speculation was measured.
     */
    private void warmUpSpeculation(ActorSystem<?> system, InferenceClient client) {
        if (specProposer.equals("none")) return;
        long until = System.nanoTime() + warmUpSeconds * 1_000_000_000L / SPECULATIVE_WARM_UP_SHARE;
        try {
            do {
                speculativeSingle(system, client);
            } while (System.nanoTime() < until);
        } catch (CompletionException e) {
            // No such proposer here: the measured phase says so.
        }
    }

    private RemoteStream.Result speculativeSingle(ActorSystem<?> system, InferenceClient client) {
        return runSingle(system, client, specProposer);
    }

    /** Decode tok/s of one greedy stream (the time after its first token). */
    private double single(ActorSystem<?> system, InferenceClient client, List<Double> ttfts, List<Double> itls) {
        RemoteStream.Result r = runSingle(system, client, "");
        record(r, ttfts, itls);
        return r.decodeTokensPerSecond();
    }

    /** Aggregate tok/s of n concurrent streams with different prompts: all their tokens over the wall time. */
    private double batch(ActorSystem<?> system, InferenceClient client, int n, List<Double> ttfts, List<Double> itls) {
        long start = System.nanoTime();
        List<CompletableFuture<RemoteStream.Result>> streams = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            streams.add(RemoteStream.run(system, client, request(ClusterPrompts.prompt(i)), RemoteStream.Listener.NONE)
                    .toCompletableFuture());
        }
        long tokens = 0;
        for (CompletableFuture<RemoteStream.Result> f : streams) {
            RemoteStream.Result r = f.join();
            tokens += r.completionTokens();
            record(r, ttfts, itls);
        }
        return tokens * 1e9 / (System.nanoTime() - start);
    }

    /** The single-stream prompt through the in-process engine (LocalGenerator), warmed up once. */
    private final class LocalSingle implements AutoCloseable {
        private final ParallelRunner runner = new ParallelRunner();
        private final LocalGenerator generator;
        private final GenerationRequest request = GenerationRequest.greedy(SINGLE_PROMPT, maxTokens);

        LocalSingle(OpenedModel opened, long warmUpNanos) {
            generator = new LocalGenerator(opened.model().weights(), opened.tokenizer(), runner);
            long start = System.nanoTime();
            // Also until a run has had the greedy screen warm (see LlamaStage.screenWarm), up to a minute.
            boolean screenedRun = false;
            for (int i = 0; i < LOCAL_WARM_UP_RUNS || System.nanoTime() - start < warmUpNanos || !screenedRun; i++) {
                screenedRun = generator.screenWarm() || System.nanoTime() - start > LOCAL_WARM_UP_LIMIT_NANOS;
                generator.generate(request, GenerationListener.NONE);
            }
        }

        /** Decode tok/s of one run. */
        double run() {
            GenerationResult r = generator.generate(request, GenerationListener.NONE);
            return r.decodeTokensPerSecond();
        }

        @Override
        public void close() {
            runner.close();
        }
    }

    private GenerateRequest request(String prompt) {
        return GenerateRequest.newBuilder().setModel("default").setPrompt(prompt).setMaxTokens(maxTokens).build();
    }

    private static void record(RemoteStream.Result r, List<Double> ttfts, List<Double> itls) {
        if (ttfts != null) ttfts.add(r.timeToFirstTokenMs());
        if (itls != null) itls.addAll(r.interTokenMs());
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Nearest-rank percentile. */
    static double percentile(List<Double> values, int p) {
        if (values.isEmpty()) return Double.NaN;
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private void log(String message) {
        System.err.println("tandem: " + message);
    }

    /** The first layer of a "3-6" label (for ordering stages), or 0 if it has none. */
    private static int firstLayer(String layers) {
        int end = 0;
        while (end < layers.length() && Character.isDigit(layers.charAt(end))) end++;
        return end == 0 ? 0 : Integer.parseInt(layers.substring(0, Math.min(end, 9)));
    }

    /** "layers 0-3 0.95 ms, layers 3-6 1.60 ms" from the per-stage map (pipeline order). */
    private static String stages(Object perStage) {
        if (!(perStage instanceof Map<?, ?> m) || m.isEmpty()) return "(no stage metrics)";
        StringBuilder text = new StringBuilder();
        m.forEach((layers, ms) -> text.append(text.isEmpty() ? "" : ", ")
                .append(String.format(Locale.ROOT, "layers %s %.2f ms", layers, ((Number) ms).doubleValue())));
        return text.toString();
    }

    private static String table(Map<String, Object> r) {
        return String.format(Locale.ROOT, """
                cluster benchmark (%s, %s new tokens per stream, medians of %s runs)
                  single stream, cluster     %8.1f tok/s
                  single stream, in process  %8.1f tok/s   (cluster/local %.2f, median of alternating pairs)
                  single stream, speculative %8.1f tok/s   (%s, %.2f tokens per step; /local %.2f)
                  single-stream step         %8.2f ms round trip = %.2f ms forward on the stages + %.2f ms transport and queueing
                  stage forward per step     %s
                  4 streams, cluster         %8.1f tok/s aggregate
                  16 streams, cluster        %8.1f tok/s aggregate   (%.2fx one stream)
                  time to first token        p50 %.1f ms, p99 %.1f ms
                  inter-token latency        p50 %.1f ms, p99 %.1f ms   (%s streams)
                  first request (cold)       %8.1f tok/s, first token after %.1f ms""",
                r.get("target"), r.get("max_tokens"), r.get("runs"),
                r.get("cluster_single_tok_s"), r.get("local_single_tok_s"), r.get("cluster_vs_local"),
                r.getOrDefault("cluster_single_speculative_tok_s", Double.NaN), r.getOrDefault("speculative_proposer", "off"),
                r.getOrDefault("speculative_tokens_per_step", Double.NaN), r.getOrDefault("cluster_speculative_vs_local", Double.NaN),
                r.get("single_step_round_trip_ms"), r.get("single_step_forward_ms"), r.get("single_step_transport_ms"),
                stages(r.get("single_step_stage_forward_ms")),
                r.get("cluster_batch4_tok_s"), r.get("cluster_batch16_tok_s"), r.get("batch16_vs_single"),
                r.get("ttft_p50_ms"), r.get("ttft_p99_ms"), r.get("itl_p50_ms"), r.get("itl_p99_ms"),
                r.get("streams_measured"), r.get("first_single_tok_s"), r.get("first_ttft_ms"));
    }
}
