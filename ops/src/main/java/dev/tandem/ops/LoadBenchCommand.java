package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.protocol.grpc.FinishReason;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import io.grpc.StatusRuntimeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sustained load on a cluster: N concurrent streams, each issuing one request after the other for M minutes
 * (a mix of short, medium and long prompts, greedy and seeded sampling, different lengths), with the latencies a
 * client sees and the resident memory of every node (VmRSS) at the start, after the warm-up and at the end.
 */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = {"Sustained load: N concurrent streams for M minutes, latencies and node memory.",
                "",
                "Each of --streams clients sends one request after the other until --minutes have passed: prompts of "
                        + "three lengths (a story opening, a paragraph, a long page), greedy or seeded sampling, "
                        + "16 to --max-tokens new tokens. Reports completed and failed requests (by gRPC status), p50/p99 "
                        + "request latency, time to first token and inter-token latency (of the requests started after "
                        + "the warm-up), and the resident memory (VmRSS) of every node at the start, after the warm-up "
                        + "and at the end, with the growth after the warm-up.",
                "",
                "Runs against the local cluster ('tandem cluster status' finds it; node memory comes from its pids); "
                        + "if none runs, starts one like 'tandem cluster up' and stops it afterwards. With --target, "
                        + "node memory is reported only when the target is the recorded local cluster.",
                "Exit code 0 when every request completed, 1 when some failed or the cluster cannot be reached."})
public final class LoadBenchCommand implements Callable<Integer> {

    /** Story openings the prompts are built from. */
    private static final String[] OPENINGS = {"Once upon a time, there was a little", "One day, a girl named Lily",
            "Tom and his dog went to the", "In a small town, there lived an old", "The sun was shining and the birds"};
    private static final String PARAGRAPH = " They played in the park all day long. They ran and jumped and laughed."
            + " When it was time to go home, they were very tired but happy.";
    private static final int LONG_PARAGRAPHS = 4;
    private static final float SAMPLING_TEMPERATURE = 0.8f;
    private static final float SAMPLING_TOP_P = 0.9f;
    private static final int MIN_NEW_TOKENS = 16;
    private static final int BENCH_WORKERS = 2;
    private static final Duration STOP_GRACE = Duration.ofSeconds(20);
    /** The warm-up when --warm-up is not given: this share of the run, at most MAX_DEFAULT_WARM_UP. */
    private static final double DEFAULT_WARM_UP_SHARE = 0.2;
    private static final Duration MAX_DEFAULT_WARM_UP = Duration.ofSeconds(60);
    private static final double PERCENT = 100.0;

    @Option(names = "--streams", paramLabel = "N", defaultValue = "64", description = "Concurrent streams. Default: ${DEFAULT-VALUE}.")
    int streams;

    @Option(names = "--minutes", paramLabel = "M", defaultValue = "1", description = "How long new requests are sent (decimals allowed). Default: ${DEFAULT-VALUE}.")
    double minutes;

    @Option(names = "--warm-up", paramLabel = "SECONDS",
            description = "Seconds before the measured window (memory baseline, latency percentiles). Default: 20%% of the run, at most 60.")
    Integer warmUpSeconds;

    @Option(names = "--max-tokens", defaultValue = "96", description = "Most new tokens of a request (each asks 16 to this many). Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = "--sampled-share", defaultValue = "0.5", description = "Share of requests that sample (temperature 0.8, top-p 0.9, seeded); the rest are greedy. Default: ${DEFAULT-VALUE}.")
    double sampledShare;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the request mix. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--target", paramLabel = "HOST:PORT", description = "A coordinator's gRPC address. Default: the local cluster's (started if none runs).")
    String target;

    @Option(names = "--workers", defaultValue = "2", description = "Workers of a cluster this command starts. Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Mixin
    ClusterStartOptions start;

    /** One finished or failed request. */
    private record Outcome(long startNanos, RemoteStream.Result result, String failure) {}

    /** A node whose memory is sampled. */
    record NodeProcess(String name, long pid) {}

    @Override
    public Integer call() throws InterruptedException {
        if (streams < 1) throw CommandFailure.usage("--streams must be at least 1, got " + streams);
        if (!(minutes > 0)) throw CommandFailure.usage("--minutes must be more than 0, got " + minutes);
        if (maxTokens < MIN_NEW_TOKENS) throw CommandFailure.usage("--max-tokens must be at least " + MIN_NEW_TOKENS + ", got " + maxTokens);
        if (sampledShare < 0 || sampledShare > 1) throw CommandFailure.usage("--sampled-share must be in [0, 1], got " + sampledShare);
        if (workers < 1) throw CommandFailure.usage("--workers must be at least 1, got " + workers);
        Duration run = Duration.ofMillis(Math.round(minutes * 60_000));
        Duration warmUp = warmUpSeconds != null ? Duration.ofSeconds(warmUpSeconds)
                : Duration.ofMillis(Math.min(MAX_DEFAULT_WARM_UP.toMillis(), Math.round(run.toMillis() * DEFAULT_WARM_UP_SHARE)));
        if (warmUp.isNegative() || warmUp.compareTo(run) >= 0) {
            throw CommandFailure.usage("--warm-up must be at least 0 and shorter than the run (" + run.toSeconds() + " s)");
        }

        LocalCluster cluster = LocalCluster.standard();
        Optional<LocalCluster.State> recorded = cluster.read().filter(s -> s.nodes().stream().anyMatch(LocalCluster.Node::alive));
        boolean started = false;
        HostAndPort where;
        List<NodeProcess> nodes = List.of();
        if (target != null) {
            where = GenerateCommand.parseTarget(target);
            if (recorded.isPresent() && recorded.get().grpcTarget().equals(where)) nodes = processes(recorded.get());
            else log("the target is not the recorded local cluster: node memory is not reported");
        } else if (recorded.isPresent()) {
            where = recorded.get().grpcTarget();
            nodes = processes(recorded.get());
        } else {
            log("no local cluster runs; starting 1 coordinator and " + workers + " workers (logs in " + cluster.logsDir() + ")...");
            LocalCluster.State state = cluster.up(start.applyTo(new LocalCluster.Spec(workers, FreePorts.pick(LocalCluster.HOST),
                    OpenedModel.DEFAULT_SPEC, start.threadsPerWorker(), start.readyTimeout())));
            started = true;
            where = state.grpcTarget();
            nodes = processes(state);
        }
        try {
            Map<String, Object> result = measure(where, nodes, run, warmUp);
            System.out.println(json ? Json.write(result) : table(result));
            return ((Number) result.get("failed")).longValue() == 0 ? 0 : CommandFailure.FAILED;
        } finally {
            if (started) cluster.down(STOP_GRACE);
        }
    }

    private static List<NodeProcess> processes(LocalCluster.State state) {
        return state.nodes().stream().filter(LocalCluster.Node::alive).map(n -> new NodeProcess(n.name(), n.pid())).toList();
    }

    private Map<String, Object> measure(HostAndPort where, List<NodeProcess> nodes, Duration run, Duration warmUp)
            throws InterruptedException {
        ActorSystem<Void> system = ClientSystem.create("tandem-bench-load");
        InferenceClient client = InferenceClient.create(ClientSystem.settings(system, where), system);
        try {
            Map<String, Long> rssStart = rss(nodes);
            long begin = System.nanoTime();
            long warmEnd = begin + warmUp.toNanos();
            long end = begin + run.toNanos();
            List<Outcome> outcomes = Collections.synchronizedList(new ArrayList<>());
            AtomicLong sequence = new AtomicLong();
            log(String.format(Locale.ROOT, "%d streams for %.1f min against %s (warm-up %d s)...", streams, minutes, where,
                    warmUp.toSeconds()));
            List<CompletableFuture<Void>> lanes = new ArrayList<>();
            for (int lane = 0; lane < streams; lane++) {
                lanes.add(lane(system, client, end, sequence, outcomes));
            }
            Thread.sleep(Math.max(0, (warmEnd - System.nanoTime()) / 1_000_000));
            Map<String, Long> rssWarm = rss(nodes);
            log("warm-up done; measuring until the end of the run...");
            CompletableFuture.allOf(lanes.toArray(CompletableFuture[]::new)).join();
            Map<String, Long> rssEnd = rss(nodes);
            double seconds = (System.nanoTime() - begin) / 1e9;
            return report(where, nodes, outcomes, warmEnd, seconds, warmUp, rssStart, rssWarm, rssEnd);
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, where);
        } finally {
            client.close();
            ClientSystem.terminate(system, Duration.ofSeconds(5));
        }
    }

    /** One client: a request, then the next, until the end of the run; failures are recorded, not fatal. */
    private CompletableFuture<Void> lane(ActorSystem<?> system, InferenceClient client, long end, AtomicLong sequence,
                                         List<Outcome> outcomes) {
        if (System.nanoTime() >= end) return CompletableFuture.completedFuture(null);
        long n = sequence.getAndIncrement();
        long startNanos = System.nanoTime();
        return RemoteStream.run(system, client, request(n), RemoteStream.Listener.NONE).toCompletableFuture()
                .handle((result, failure) -> {
                    outcomes.add(failure == null ? new Outcome(startNanos, result, null)
                            : new Outcome(startNanos, null, failureCode(failure)));
                    return null;
                })
                .thenCompose(ignored -> lane(system, client, end, sequence, outcomes));
    }

    private static String failureCode(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof StatusRuntimeException s) return s.getStatus().getCode().name();
        return cause.getClass().getSimpleName();
    }

    /** The n-th request of the mix: prompt length, decoding and budget drawn from a generator seeded by n. */
    GenerateRequest request(long n) {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + n);
        String prompt = OPENINGS[random.nextInt(OPENINGS.length)];
        int kind = random.nextInt(3);
        if (kind >= 1) prompt = prompt + PARAGRAPH;
        if (kind == 2) prompt = prompt + PARAGRAPH.repeat(LONG_PARAGRAPHS - 1);
        GenerateRequest.Builder b = GenerateRequest.newBuilder().setModel("default").setPrompt(prompt)
                .setMaxTokens(MIN_NEW_TOKENS + random.nextInt(maxTokens - MIN_NEW_TOKENS + 1));
        if (random.nextDouble() < sampledShare) {
            b.setTemperature(SAMPLING_TEMPERATURE).setTopP(SAMPLING_TOP_P).setSeed(random.nextLong() & Long.MAX_VALUE);
        }
        return b.build();
    }

    private Map<String, Object> report(HostAndPort where, List<NodeProcess> nodes, List<Outcome> outcomes, long warmEnd,
                                       double seconds, Duration warmUp, Map<String, Long> rssStart,
                                       Map<String, Long> rssWarm, Map<String, Long> rssEnd) {
        long completed = 0;
        long tokens = 0;
        Map<String, Long> failures = new TreeMap<>();
        Map<String, Long> finishes = new TreeMap<>();
        List<Double> latencies = new ArrayList<>();
        List<Double> ttfts = new ArrayList<>();
        List<Double> itls = new ArrayList<>();
        synchronized (outcomes) {
            for (Outcome o : outcomes) {
                if (o.failure() != null) {
                    failures.merge(o.failure(), 1L, Long::sum);
                    continue;
                }
                completed++;
                tokens += o.result().completionTokens();
                finishes.merge(finishName(o.result().finishReason()), 1L, Long::sum);
                if (o.startNanos() < warmEnd) continue;
                latencies.add((o.result().endNanos() - o.result().startNanos()) / 1e6);
                if (o.result().chunkNanos().length > 0) ttfts.add(o.result().timeToFirstTokenMs());
                itls.addAll(o.result().interTokenMs());
            }
        }
        long failed = failures.values().stream().mapToLong(Long::longValue).sum();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("target", where.toString());
        out.put("streams", streams);
        out.put("minutes", minutes);
        out.put("warm_up_seconds", warmUp.toSeconds());
        out.put("max_tokens", maxTokens);
        out.put("sampled_share", sampledShare);
        out.put("seconds", seconds);
        out.put("completed", completed);
        out.put("failed", failed);
        out.put("failures", failures);
        out.put("finish_reasons", finishes);
        out.put("completion_tokens", tokens);
        out.put("tokens_per_second", tokens / seconds);
        out.put("measured_requests", latencies.size());
        out.put("latency_p50_ms", BenchClusterCommand.percentile(latencies, 50));
        out.put("latency_p99_ms", BenchClusterCommand.percentile(latencies, 99));
        out.put("ttft_p50_ms", BenchClusterCommand.percentile(ttfts, 50));
        out.put("ttft_p99_ms", BenchClusterCommand.percentile(ttfts, 99));
        out.put("itl_p50_ms", BenchClusterCommand.percentile(itls, 50));
        out.put("itl_p99_ms", BenchClusterCommand.percentile(itls, 99));
        List<Map<String, Object>> memory = new ArrayList<>();
        double maxGrowth = Double.NaN;
        for (NodeProcess n : nodes) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", n.name());
            m.put("pid", n.pid());
            Long s = rssStart.get(n.name());
            Long w = rssWarm.get(n.name());
            Long e = rssEnd.get(n.name());
            m.put("rss_start_bytes", s);
            m.put("rss_after_warm_up_bytes", w);
            m.put("rss_end_bytes", e);
            double growth = w != null && e != null && w > 0 ? PERCENT * (e - w) / w : Double.NaN;
            m.put("growth_after_warm_up_pct", Double.isNaN(growth) ? null : growth);
            if (!Double.isNaN(growth)) maxGrowth = Double.isNaN(maxGrowth) ? growth : Math.max(maxGrowth, growth);
            memory.add(m);
        }
        out.put("nodes", memory);
        out.put("max_growth_after_warm_up_pct", Double.isNaN(maxGrowth) ? null : maxGrowth);
        out.put("load_average", loadAverage());
        return out;
    }

    private static String finishName(FinishReason reason) {
        return Statistics.finishName(reason);
    }

    /** VmRSS of each node in bytes (absent when the process is gone or /proc cannot be read). */
    static Map<String, Long> rss(List<NodeProcess> nodes) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (NodeProcess n : nodes) residentBytes(n.pid()).ifPresent(b -> out.put(n.name(), b));
        return out;
    }

    static Optional<Long> residentBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.UTF_8)) {
                if (line.startsWith("VmRSS:")) {
                    String[] parts = line.substring("VmRSS:".length()).trim().split("\\s+");
                    return Optional.of(Long.parseLong(parts[0]) * 1024L); // the kernel reports kB
                }
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** The 1-minute load average of this machine, or null where /proc/loadavg is missing. */
    private static Double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static void log(String message) {
        System.err.println("tandem: " + message);
    }

    @SuppressWarnings("unchecked")
    private static String table(Map<String, Object> r) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "load benchmark (%s, %s streams, %.1f min, warm-up %s s)%n",
                r.get("target"), r.get("streams"), ((Number) r.get("minutes")).doubleValue(), r.get("warm_up_seconds")));
        out.append(String.format(Locale.ROOT, "  requests        %s completed, %s failed %s; %s tokens, %.1f tok/s%n",
                r.get("completed"), r.get("failed"), r.get("failures"), r.get("completion_tokens"), r.get("tokens_per_second")));
        out.append(String.format(Locale.ROOT, "  latency         p50 %.0f ms, p99 %.0f ms   (%s requests after the warm-up)%n",
                r.get("latency_p50_ms"), r.get("latency_p99_ms"), r.get("measured_requests")));
        out.append(String.format(Locale.ROOT, "  first token     p50 %.1f ms, p99 %.1f ms%n", r.get("ttft_p50_ms"), r.get("ttft_p99_ms")));
        out.append(String.format(Locale.ROOT, "  inter-token     p50 %.1f ms, p99 %.1f ms%n", r.get("itl_p50_ms"), r.get("itl_p99_ms")));
        for (Map<String, Object> n : (List<Map<String, Object>>) r.get("nodes")) {
            out.append(String.format(Locale.ROOT, "  memory %-12s start %s, after warm-up %s, end %s (%s)%n", n.get("name"),
                    mib(n.get("rss_start_bytes")), mib(n.get("rss_after_warm_up_bytes")), mib(n.get("rss_end_bytes")),
                    n.get("growth_after_warm_up_pct") == null ? "growth unknown"
                            : String.format(Locale.ROOT, "%+.1f%% after warm-up", ((Number) n.get("growth_after_warm_up_pct")).doubleValue())));
        }
        out.append(String.format(Locale.ROOT, "  load average    %s", r.get("load_average")));
        return out.toString();
    }

    private static String mib(Object bytes) {
        return bytes == null ? "?" : String.format(Locale.ROOT, "%.0f MiB", ((Number) bytes).longValue() / (1024.0 * 1024.0));
    }
}
