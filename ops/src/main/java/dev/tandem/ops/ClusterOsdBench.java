package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeBootstrap;
import dev.tandem.cluster.drafts.DraftMetrics;
import dev.tandem.cluster.drafts.DraftsSettings;
import dev.tandem.cluster.drafts.TrainingGate;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.trainer.online.OnlineDistillationBench;
import dev.tandem.trainer.online.OsdBenchResult;
import dev.tandem.trainer.online.RequestRecord;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftRegistry;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import static dev.tandem.trainer.online.OnlineDistillationBench.acceptance;
import static dev.tandem.trainer.online.OnlineDistillationBench.acceptedPerProposed;
import static dev.tandem.trainer.online.OnlineDistillationBench.tokensPerStep;
import static dev.tandem.trainer.online.OnlineDistillationBench.tpotMs;

/**
 * {@code bench osd --mode cluster}: the same stream as the local mode (family A then family B, bursts with idle
 * gaps), served through gRPC by two embedded clusters in this process (each a coordinator and two worker
 * ActorSystems, each node with its own draft directory, both coordinators seeded with the bootstrap draft):
 * <ul>
 *   <li>the online cluster, with online distillation on: the worker holding the last stage records, trains in
 *   the gaps and publishes, the coordinator receives the drafts over Artery and serves them. Every burst is served
 *   there first with no speculation (right after the gap, so an interrupted trainer step shows: the trainer-on
 *   latency and the speedup reference), then with {@code draft};</li>
 *   <li>the frozen cluster, {@code tandem.drafts.train = off}: its workers only mirror, so the bootstrap draft stays
 *   live. Every burst is served there with {@code draft} (the frozen-draft reference) and, for the first
 *   {@code interferenceRequests}, with no speculation too, first and after an idle gap of its own while the online
 *   cluster is held (the trainer-off latency: same requests, same load, same idle time before them).</li>
 * </ul>
 * A node's idle governor sees only its own cluster's requests, so the online cluster's trainers are held
 * ({@link TrainingGate}) while the frozen cluster serves: training happens in the gaps only, as with one
 * cluster. Acceptance is per draft token tried, accepted / (accepted + rejected) from each request's usage, as
 * in the local mode.
 */
final class ClusterOsdBench {

    private static final Duration START_TIMEOUT = Duration.ofMinutes(3);
    private static final String MODEL = "default";
    private static final double P99 = 0.99;
    private static final double P50 = 0.5;
    /** Requests per cluster and proposer before the stream. */
    private static final int WARMUP_REQUESTS = 2;
    private static final String HEARTBEAT_PAUSE = "60s";
    private static final Duration TRAINER_WARM_UP_TIMEOUT = Duration.ofSeconds(60);

    private ClusterOsdBench() {}

    static OsdBenchResult run(String modelSpec, String modelName, DraftModel bootstrap, TrafficGenerator generator,
                              OnlineDistillationBench.Settings s, Path work, Consumer<String> log) throws Exception {
        long start = System.nanoTime();
        log.accept("starting two embedded clusters (coordinator and two workers each): online distillation on, and trainer off with the "
                + "frozen bootstrap draft; drafts under " + work);
        try (EmbeddedCluster online = start(modelSpec, bootstrap, s, work.resolve("online-drafts"), true);
             EmbeddedCluster frozen = start(modelSpec, bootstrap, s, work.resolve("frozen-drafts"), false)) {
            ActorSystem<Void> system = ClientSystem.create("tandem-bench-osd");
            InferenceClient onlineClient = client(system, online);
            InferenceClient frozenClient = client(system, frozen);
            try {
                int nA = s.requests() / 2;
                int m = Math.min(s.interferenceRequests(), s.requests());
                List<TrafficGenerator.Request> stream = new ArrayList<>(generator.take(s.familyA(), nA));
                stream.addAll(generator.take(s.familyB(), s.requests() - nA));
                // Untagged (recorded, if at all, for the general class only): the first requests of a fresh JVM run cold.
                log.accept("warm-up");
                List<TrafficGenerator.Request> warmUp = java.util.Collections.nCopies(WARMUP_REQUESTS,
                        new TrafficGenerator.Request("", OnlineDistillationBench.WARMUP_PROMPT));
                for (InferenceClient c : List.of(onlineClient, frozenClient)) {
                    for (String proposer : List.of("none", "draft")) serve(system, c, warmUp, proposer, s, null);
                }
                awaitTrainerWarmUp(online, log);
                log.accept("serving " + stream.size() + " requests: online cluster with no speculation and with draft, frozen cluster with draft"
                        + (m > 0 ? " (the first " + m + " also with no speculation, trainer off)" : "") + ", interleaved");
                Runs runs = new Runs();
                for (int from = 0; from < stream.size(); from += s.burst()) {
                    List<TrafficGenerator.Request> burst = stream.subList(from, Math.min(stream.size(), from + s.burst()));
                    runs.none.addAll(serve(system, onlineClient, burst, "none", s, null));
                    runs.online.addAll(serve(system, onlineClient, burst, "draft", s, runs.proposers));
                    hold(online, true);
                    try {
                        if (from < m) {
                            // The trainer-off reference comes after the same idle gap as the trainer-on one: requests
                            // that follow a gap run slower (cold caches, parked threads) whether a trainer ran or not.
                            Thread.sleep(s.gapMillis());
                            runs.noneOff.addAll(serve(system, frozenClient, burst, "none", s, null));
                        }
                        runs.frozen.addAll(serve(system, frozenClient, burst, "draft", s, null));
                    } finally {
                        hold(online, false);
                    }
                    if ((from / s.burst()) % 10 == 9) {
                        int k = Math.max(0, runs.online.size() - 10 * s.burst());
                        log.accept(String.format(java.util.Locale.ROOT, "  %d requests, acceptance of the last 10 bursts %.3f (frozen %.3f), served by %s",
                                runs.online.size(), acceptance(runs.online.subList(k, runs.online.size())),
                                acceptance(runs.frozen.subList(k, runs.frozen.size())), runs.proposers.getLast()));
                    }
                    Thread.sleep(s.gapMillis());
                }
                return result(modelName, s, stream, nA, runs, online, (System.nanoTime() - start) / 1e9);
            } finally {
                onlineClient.close();
                frozenClient.close();
                ClientSystem.terminate(system, Duration.ofSeconds(10));
            }
        }
    }

    /** The requests of each run, in stream order. */
    private static final class Runs {
        final List<RequestRecord> none = new ArrayList<>();
        final List<RequestRecord> online = new ArrayList<>();
        final List<String> proposers = new ArrayList<>();
        final List<RequestRecord> frozen = new ArrayList<>();
        final List<RequestRecord> noneOff = new ArrayList<>();
    }

    /** A coordinator whose registry holds the bootstrap as its general draft, and two workers that train or only mirror. */
    private static EmbeddedCluster start(String modelSpec, DraftModel bootstrap, OnlineDistillationBench.Settings s, Path drafts,
                                         boolean train) {
        DraftRegistry.open(drafts).adopt(DraftModel.GENERAL_CLASS, bootstrap, AcceptanceMetrics.NONE, AcceptanceMetrics.NONE,
                System.currentTimeMillis(), "bootstrap");
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("tandem.node.model", modelSpec);
        overrides.put("tandem.coordinator.min-workers", 2);
        // The bench warms each cluster up with requests of its own (and waits for the trainers' warm-ups); the
        // gateway's would only add its 15 s to each cluster's start.
        overrides.put("tandem.gateway.warm-up.duration", "0s");
        overrides.put(DraftsSettings.DIR_KEY, drafts.toString());
        overrides.put(DraftsSettings.TRAIN_KEY, train);
        overrides.put("akka.cluster.jmx.multi-mbeans-in-same-jvm", true); // two clusters in this JVM
        // Nobody administers the benchmark's clusters: a token of its own spares the warning that one was generated.
        overrides.put("tandem.admin.token", dev.tandem.coordinator.grpc.AdminAuth.generateToken());
        // Stdout carries the result (--json); Akka's own stdout logger still prints while a node shuts down.
        overrides.put("akka.stdout-loglevel", "OFF");
        // Every node lives in this JVM: a pause (GC, an overloaded machine) stalls them all alike and is no node
        // failure, but the default 3 s pause once made both workers unreachable and failed the run.
        overrides.put("akka.cluster.failure-detector.acceptable-heartbeat-pause", HEARTBEAT_PAUSE);
        overrides.put("akka.remote.watch-failure-detector.acceptable-heartbeat-pause", HEARTBEAT_PAUSE);
        if (s.draftLength() > 0) {
            overrides.put("tandem.coordinator.speculation.adaptive", false);
            overrides.put("tandem.coordinator.speculation.max-drafts", s.draftLength());
        }
        return EmbeddedCluster.start(2, 0, overrides, START_TIMEOUT);
    }

    private static InferenceClient client(ActorSystem<Void> system, EmbeddedCluster cluster) throws InterruptedException {
        HostAndPort target = new HostAndPort(cluster.grpcAddress().getHostString(), cluster.grpcAddress().getPort());
        try (HealthProbe health = new HealthProbe(system, target)) {
            if (!health.awaitServing(START_TIMEOUT, () -> true)) throw new IllegalStateException("an embedded cluster did not serve");
        }
        return InferenceClient.create(ClientSystem.settings(system, target), system);
    }

    /**
     * Waits (at most {@link #TRAINER_WARM_UP_TIMEOUT}) until the online cluster's trainers have run their warm-up,
     * which they do in the idle time after the warm-up requests: the stream should measure the trainer training, not
     * its code being compiled.
     */
    private static void awaitTrainerWarmUp(EmbeddedCluster cluster, Consumer<String> log) throws InterruptedException {
        long deadline = System.nanoTime() + TRAINER_WARM_UP_TIMEOUT.toNanos();
        while (true) {
            boolean all = true;
            for (NodeBootstrap.TandemNode w : cluster.workers()) {
                all &= NodeMetrics.of(w.system()).gauge(DraftMetrics.TRAINER_WARMED_UP, "").value() >= 1;
            }
            if (all) return;
            if (System.nanoTime() > deadline) {
                log.accept("the trainers' warm-up did not finish within " + TRAINER_WARM_UP_TIMEOUT.toSeconds() + " s; going on");
                return;
            }
            Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis()); // the gauge itself moves once per metrics interval (1 s)
        }
    }

    /** Holds (or releases) the trainers of a cluster's workers while another cluster serves. */
    private static void hold(EmbeddedCluster cluster, boolean held) {
        for (NodeBootstrap.TandemNode w : cluster.workers()) TrainingGate.of(w.system()).open(!held);
    }

    private static List<RequestRecord> serve(ActorSystem<Void> system, InferenceClient client, List<TrafficGenerator.Request> burst,
                                             String proposer, OnlineDistillationBench.Settings s, List<String> proposers) {
        List<CompletableFuture<RemoteStream.Result>> calls = new ArrayList<>();
        for (TrafficGenerator.Request r : burst) {
            var request = RemoteStream.request(MODEL, GenerationRequest.greedy(r.prompt(), s.maxNewTokens()), proposer).toBuilder()
                    .setTrafficClass(r.trafficClass()).build();
            calls.add(RemoteStream.run(system, client, request, RemoteStream.Listener.NONE).toCompletableFuture());
        }
        List<RequestRecord> out = new ArrayList<>();
        for (int i = 0; i < burst.size(); i++) {
            RemoteStream.Result r = calls.get(i).join();
            var u = r.usage();
            long tokens = u.getCompletionTokens();
            long decode = r.chunkNanos().length == 0 ? 0 : r.endNanos() - r.chunkNanos()[0];
            // Tried = drafts up to each step's first rejection, so acceptance is per token as in the local mode.
            out.add(new RequestRecord(burst.get(i).trafficClass(), u.getProposed(), u.getAccepted(), u.getAccepted() + u.getRejected(),
                    u.getSteps() + 1,
                    tokens, tokens > 1 ? decode / (tokens - 1) : decode, r.endNanos() - r.startNanos()));
            if (proposers != null) proposers.add(u.getProposer());
        }
        return out;
    }

    private static OsdBenchResult result(String model, OnlineDistillationBench.Settings s, List<TrafficGenerator.Request> stream, int nA,
                                         Runs runs, EmbeddedCluster cluster, double seconds) {
        List<RequestRecord> rec = runs.online;
        List<RequestRecord> none = runs.none;
        List<RequestRecord> frozen = runs.frozen;
        List<OsdBenchResult.Window> windows = new ArrayList<>();
        int index = 0;
        for (int[] range : OnlineDistillationBench.windowRanges(stream.size(), nA, s.window())) {
            List<RequestRecord> w = rec.subList(range[0], range[1]);
            List<RequestRecord> f = frozen.subList(range[0], range[1]);
            windows.add(new OsdBenchResult.Window(index++, w.getFirst().trafficClass(), w.size(), acceptance(w), acceptedPerProposed(w),
                    tokensPerStep(w), tpotMs(w), tokensPerStep(f), acceptance(f), tpotMs(f), tpotMs(none.subList(range[0], range[1]))));
        }
        List<RequestRecord> a = rec.subList(0, nA);
        List<RequestRecord> b = rec.subList(nA, rec.size());
        double finalA = acceptance(a.subList(Math.max(0, nA - s.window()), a.size()));
        double finalB = acceptance(b.subList(Math.max(0, b.size() - s.window()), b.size()));
        int recovery = b.size();
        for (int i = OnlineDistillationBench.RECOVERY_WINDOW; i <= b.size(); i++) {
            if (acceptance(b.subList(i - OnlineDistillationBench.RECOVERY_WINDOW, i)) >= finalB - OnlineDistillationBench.RECOVERY_TOLERANCE) {
                recovery = i;
                break;
            }
        }
        int last = Math.max(0, rec.size() - s.window());
        double lastTpot = tpotMs(rec.subList(last, rec.size()));
        double speedupNone = tpotMs(none.subList(last, none.size())) / lastTpot;
        double speedupNoneOverall = tpotMs(none) / tpotMs(rec);
        double speedupBootstrap = tpotMs(frozen.subList(last, frozen.size())) / lastTpot;
        // Trainer on: the online cluster's requests with no speculation, served right after each gap; off: the
        // same requests on the frozen cluster (no trainer), same proposer, interleaved.
        List<RequestRecord> on = none.subList(0, runs.noneOff.size());
        double p99On = OnlineDistillationBench.percentileMs(on, P99);
        double p99Off = OnlineDistillationBench.percentileMs(runs.noneOff, P99);
        long steps = 0;
        double busy = 0;
        int published = 0;
        int rejected = 0;
        int rolledBack = 0;
        for (NodeBootstrap.TandemNode w : cluster.workers()) {
            MetricsRegistry m = NodeMetrics.of(w.system());
            steps += (long) m.counter(DraftMetrics.TRAINER_STEPS, "").value();
            busy += m.counter(DraftMetrics.TRAINER_BUSY, "").value();
            for (String cls : List.of(s.familyA(), s.familyB(), DraftModel.GENERAL_CLASS)) {
                published += (int) m.counter(DraftMetrics.CANDIDATES, "", "class", "outcome").value(cls, "published");
                rejected += (int) m.counter(DraftMetrics.CANDIDATES, "", "class", "outcome").value(cls, "rejected");
                rolledBack += (int) m.counter(DraftMetrics.ROLLBACKS, "", "class", "reason").value(cls, "held-out");
            }
        }
        return new OsdBenchResult("cluster", model, stream.size(), s.maxNewTokens(), s.burst(), s.gapMillis(), s.familyA(), s.familyB(),
                windows, acceptance(frozen), acceptance(frozen.subList(0, nA)), acceptance(frozen.subList(nA, frozen.size())), finalA, finalB,
                finalB, recovery, speedupNone, speedupNoneOverall, speedupBootstrap, p99On, p99Off, p99Off > 0 ? p99On / p99Off : 0,
                OnlineDistillationBench.percentileMs(on, P50), OnlineDistillationBench.percentileMs(runs.noneOff, P50), on.size(),
                steps, published, rejected, rolledBack, busy, seconds);
    }
}
