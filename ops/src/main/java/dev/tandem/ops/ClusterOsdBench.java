package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeBootstrap;
import dev.tandem.cluster.drafts.DraftMetrics;
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
 * gaps), served through gRPC by an embedded cluster (a coordinator and two worker ActorSystems, each with its own
 * draft directory) with online distillation on: the worker holding the last stage records, trains in the gaps
 * and publishes, the coordinator receives the drafts over Artery and serves them. Every burst is served first
 * with no speculation (the reference, same load), then with {@code draft}. Acceptance is accepted / proposed
 * draft tokens from each request's usage; "bootstrap" figures are those of the requests the bootstrap draft
 * served (before the class's first publication reached the coordinator). The frozen-draft reference and the
 * trainer on/off latency comparison are local-mode measurements (reported as 0 here).
 */
final class ClusterOsdBench {

    private static final Duration START_TIMEOUT = Duration.ofMinutes(3);
    private static final String MODEL = "default";

    private ClusterOsdBench() {}

    static OsdBenchResult run(String modelSpec, String modelName, DraftModel bootstrap, TrafficGenerator generator,
                              OnlineDistillationBench.Settings s, Path work, Consumer<String> log) throws Exception {
        long start = System.nanoTime();
        Path drafts = work.resolve("coordinator-drafts");
        DraftRegistry.open(drafts).adopt(DraftModel.GENERAL_CLASS, bootstrap, AcceptanceMetrics.NONE, AcceptanceMetrics.NONE,
                System.currentTimeMillis(), "bootstrap");
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("tandem.node.model", modelSpec);
        overrides.put("tandem.coordinator.min-workers", 2);
        overrides.put("tandem.drafts.dir", drafts.toString());
        if (s.draftLength() > 0) {
            overrides.put("tandem.coordinator.speculation.adaptive", false);
            overrides.put("tandem.coordinator.speculation.max-drafts", s.draftLength());
        }
        log.accept("starting an embedded cluster (coordinator and two workers) with online distillation; drafts under " + work);
        try (EmbeddedCluster cluster = EmbeddedCluster.start(2, 0, overrides, START_TIMEOUT)) {
            ActorSystem<Void> system = ClientSystem.create("tandem-bench-osd");
            HostAndPort target = new HostAndPort(cluster.grpcAddress().getHostString(), cluster.grpcAddress().getPort());
            try (HealthProbe health = new HealthProbe(system, target)) {
                if (!health.awaitServing(START_TIMEOUT, () -> true)) throw new IllegalStateException("the embedded cluster did not serve");
            }
            InferenceClient client = InferenceClient.create(ClientSystem.settings(system, target), system);
            try {
                int nA = s.requests() / 2;
                List<TrafficGenerator.Request> stream = new ArrayList<>(generator.take(s.familyA(), nA));
                stream.addAll(generator.take(s.familyB(), s.requests() - nA));
                List<RequestRecord> none = new ArrayList<>();
                List<RequestRecord> online = new ArrayList<>();
                List<String> proposers = new ArrayList<>();
                for (int from = 0; from < stream.size(); from += s.burst()) {
                    List<TrafficGenerator.Request> burst = stream.subList(from, Math.min(stream.size(), from + s.burst()));
                    none.addAll(serve(system, client, burst, "none", s, null));
                    online.addAll(serve(system, client, burst, "draft", s, proposers));
                    if ((from / s.burst()) % 10 == 9) {
                        List<RequestRecord> last = online.subList(Math.max(0, online.size() - 10 * s.burst()), online.size());
                        log.accept(String.format(java.util.Locale.ROOT, "  %d requests, acceptance of the last 10 bursts %.3f, served by %s",
                                online.size(), acceptance(last), proposers.getLast()));
                    }
                    Thread.sleep(s.gapMillis());
                }
                return result(modelName, s, stream, nA, none, online, proposers, bootstrap, cluster, (System.nanoTime() - start) / 1e9);
            } finally {
                client.close();
                ClientSystem.terminate(system, Duration.ofSeconds(10));
            }
        }
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
                                         List<RequestRecord> none, List<RequestRecord> rec, List<String> proposers, DraftModel bootstrap,
                                         EmbeddedCluster cluster, double seconds) {
        String bootstrapName = "draft:" + DraftModel.GENERAL_CLASS + "@" + bootstrap.version();
        List<RequestRecord> byBootstrap = new ArrayList<>();
        List<RequestRecord> byBootstrapA = new ArrayList<>();
        List<RequestRecord> byBootstrapB = new ArrayList<>();
        for (int i = 0; i < rec.size(); i++) {
            if (!proposers.get(i).equals(bootstrapName)) continue;
            byBootstrap.add(rec.get(i));
            (i < nA ? byBootstrapA : byBootstrapB).add(rec.get(i));
        }
        List<OsdBenchResult.Window> windows = new ArrayList<>();
        int index = 0;
        for (int[] range : OnlineDistillationBench.windowRanges(stream.size(), nA, s.window())) {
            List<RequestRecord> w = rec.subList(range[0], range[1]);
            windows.add(new OsdBenchResult.Window(index++, w.getFirst().trafficClass(), w.size(), acceptance(w), acceptedPerProposed(w),
                    tokensPerStep(w), tpotMs(w), 0, 0, 0, tpotMs(none.subList(range[0], range[1]))));
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
        double speedupNone = tpotMs(none.subList(last, none.size())) / tpotMs(rec.subList(last, rec.size()));
        double speedupNoneOverall = tpotMs(none) / tpotMs(rec);
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
                windows, acceptance(byBootstrap), acceptance(byBootstrapA), acceptance(byBootstrapB), finalA, finalB, finalB, recovery,
                speedupNone, speedupNoneOverall, 0, 0, 0, 0, 0, steps, published, rejected, rolledBack, busy, seconds);
    }
}
