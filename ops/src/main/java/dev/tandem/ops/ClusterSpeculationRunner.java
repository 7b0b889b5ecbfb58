package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.engine.bench.SpeculationRunner;
import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.spec.SpeculationStats;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@code bench spec} through a cluster: each request is a gRPC Generate stream naming the proposer, run
 * concurrently; the statistics come from the stream's usage (the coordinator's counts). Mode {@code cluster}.
 */
final class ClusterSpeculationRunner implements SpeculationRunner {

    private final HostAndPort where;
    private final ActorSystem<Void> system;
    private final InferenceClient client;

    ClusterSpeculationRunner(HostAndPort where) {
        this.where = where;
        this.system = ClientSystem.create("tandem-bench-spec");
        this.client = InferenceClient.create(ClientSystem.settings(system, where), system);
    }

    @Override
    public String mode() { return "cluster"; }

    @Override
    public List<SpeculativeResult> run(String proposer, List<GenerationRequest> requests) {
        List<CompletableFuture<RemoteStream.Result>> streams = new ArrayList<>();
        for (GenerationRequest r : requests) {
            GenerateRequest call = RemoteStream.request("default", r, proposer);
            streams.add(RemoteStream.run(system, client, call, RemoteStream.Listener.NONE).toCompletableFuture());
        }
        List<SpeculativeResult> results = new ArrayList<>();
        try {
            for (CompletableFuture<RemoteStream.Result> f : streams) results.add(result(f.join()));
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, where);
        }
        return results;
    }

    private static SpeculativeResult result(RemoteStream.Result r) {
        var u = r.usage();
        FinishReason reason = FinishReason.valueOf(Statistics.finishName(r.finishReason()).toUpperCase(java.util.Locale.ROOT));
        GenerationResult generation = new GenerationResult(new int[0], r.tokenIds(), r.text().getBytes(StandardCharsets.UTF_8),
                reason, 0, r.endNanos() - r.startNanos());
        // Usage counts the steps after the prompt's; the stats count every target forward, the prefill included.
        SpeculationStats stats = new SpeculationStats(u.getProposer(), u.getSteps() + 1, u.getProposed(), u.getAccepted(),
                u.getCompletionTokens());
        return new SpeculativeResult(generation, stats);
    }

    @Override
    public void close() {
        client.close();
        ClientSystem.terminate(system, Duration.ofSeconds(5));
    }
}
