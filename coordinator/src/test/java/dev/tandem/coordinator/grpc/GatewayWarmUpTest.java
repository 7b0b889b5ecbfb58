package dev.tandem.coordinator.grpc;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import akka.http.javadsl.ServerBinding;
import akka.stream.javadsl.Sink;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.coordinator.Await;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.health.HealthCheckRequest;
import dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus;
import dev.tandem.protocol.grpc.health.HealthClient;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.NodeMetrics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gateway's warm-up over the single-process engine backend: health stays NOT_SERVING while it runs and a
 * client's request is served meanwhile; its requests go through the whole handler (client token included) as
 * batches, a single stream per proposer (one the node refuses is skipped) and a sampled stream; then health says
 * SERVING, and the log reports no failed request.
 */
class GatewayWarmUpTest {

    private static final long TIMEOUT_SECONDS = 120;
    private static final Duration TIMEOUT = Duration.ofSeconds(TIMEOUT_SECONDS);
    private static final Duration WARM_UP = Duration.ofSeconds(4);
    private static final String TOKEN = "warm-up-test-token";

    private static LoadedModel model;
    private static ParallelRunner runner;
    private static BpeTokenizer tokenizer;

    @BeforeAll
    static void open() {
        model = Llama2cModelLoader.load(TandemHome.defaultModelDir().resolve("model.bin"));
        runner = new ParallelRunner(2);
        tokenizer = BpeTokenizer.fromLlama2c(TandemHome.defaultModelDir().resolve("tokenizer.bin"), model.config().vocabSize());
    }

    @AfterAll
    static void close() {
        runner.close();
        model.close();
    }

    /** A gateway over the single-process engine, bound on loopback in its own actor system, with a health client. */
    private record Gateway(ActorSystem<Void> system, LocalEngineBackend backend, ServerBinding binding, GrpcClientSettings client,
                           HealthClient health) implements AutoCloseable {

        /** @param beforeBind what to do to the backend before the gateway binds (and its warm-up starts waiting) */
        static Gateway start(String name, String config, java.util.function.Consumer<LocalEngineBackend> beforeBind) throws Exception {
            Config c = ConfigFactory.parseString(config).withFallback(ConfigFactory.load());
            ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), name, c);
            LocalEngineBackend backend = new LocalEngineBackend(new LocalGenerator(model.weights(), tokenizer, runner));
            beforeBind.accept(backend);
            ServerBinding binding = await(GatewayServer.bind(system, backend, GatewaySettings.fromConfig(c), "127.0.0.1", 0));
            GrpcClientSettings client = GrpcClientSettings.connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), system)
                    .withTls(false);
            return new Gateway(system, backend, binding, client, HealthClient.create(client, system));
        }

        ServingStatus status() throws Exception {
            return GatewayWarmUpTest.status(health);
        }

        Counter outcomes() {
            return NodeMetrics.of(system).counter(GatewayWarmUp.REQUESTS, "", "outcome");
        }

        @Override
        public void close() throws Exception {
            try {
                await(health.close());
                await(binding.terminate(Duration.ofSeconds(5)));
            } finally {
                system.terminate();
                await(system.getWhenTerminated());
                backend.close();
            }
        }
    }

    @Test
    void healthWaitsForTheWarmUpWhoseRequestsTakeTheClientPath() throws Exception {
        String config = """
                tandem.gateway.warm-up { duration = 4s, streams = 3, max-tokens = 6, proposers = ["none", "ngram", "draft"] }
                tandem.gateway.client-auth.tokens = ["%s"]
                """.formatted(TOKEN);
        // No pipeline yet: the warm-up waits for it.
        try (Gateway g = Gateway.start("warm-up-test", config, backend -> backend.ready = false)) {
            InferenceClient client = InferenceClient.create(g.client(), g.system());
            try {
                assertEquals(ServingStatus.NOT_SERVING, g.status(), "not serving before the model is ready");
                // The warm-up polls readiness (every 200 ms): several polls, and still no request.
                int queried = g.backend().modelQueries.get();
                Await.until("the warm-up polled readiness 5 times", () -> g.backend().modelQueries.get() >= queried + 5, TIMEOUT);
                assertTrue(g.backend().requests.isEmpty(), "no warm-up before the model is ready");
                long start = System.nanoTime();
                g.backend().ready = true;
                assertEquals(ServingStatus.NOT_SERVING, g.status(), "not serving while warming up");
                // Served meanwhile (health only keeps new traffic away).
                List<GenerateChunk> chunks = await(client.generate().addHeader("authorization", "Bearer " + TOKEN)
                        .invoke(GenerateRequest.newBuilder().setModel("default").setPrompt("Lily").setMaxTokens(3).build())
                        .runWith(Sink.seq(), g.system()));
                assertEquals(3, chunks.getLast().getUsage().getCompletionTokens());

                awaitServing(g);
                long took = System.nanoTime() - start;
                assertTrue(took >= WARM_UP.toNanos(), "SERVING after the warm-up's duration, not " + took / 1e6 + " ms");

                List<GenerationSpec> warmUp = g.backend().requests.stream().filter(s -> s.maxNewTokens() == 6).toList();
                assertTrue(warmUp.size() >= 3 + 2 + 1, "at least one round: " + warmUp.size());
                assertEquals(Set.of("none", "ngram", "draft"), warmUp.stream().map(GenerationSpec::speculate)
                        .filter(p -> !p.isEmpty()).collect(Collectors.toSet()), "a single stream per proposer");
                assertEquals(1, warmUp.stream().filter(s -> s.speculate().equals("draft")).count(),
                        "a proposer the node refuses is skipped after its first refusal");
                assertTrue(warmUp.stream().anyMatch(s -> s.sampling().temperature() > 0), "a sampled stream");
                assertTrue(warmUp.stream().allMatch(s -> s.trafficClass().equals(dev.tandem.engine.draft.DraftModel.UNRECORDED_CLASS)),
                        "never recorded for the draft trainer");
                assertTrue(warmUp.stream().map(GenerationSpec::prompt).distinct().count() >= 3, "prompts in turn");
                assertEquals(1.0, NodeMetrics.of(g.system()).gauge(GatewayWarmUp.WARMED_UP, "").value());
                assertEquals(0.0, g.outcomes().value("failed"), "no warm-up request failed");
                assertEquals(1.0, g.outcomes().value("skipped"), "the refused proposer");
                assertEquals(warmUp.size() - 1, g.outcomes().value("ok") + g.outcomes().value("cut"));
                // Every request it sent had ended (and was counted) when it reported SERVING: none in flight after.
                double counted = g.outcomes().value("ok") + g.outcomes().value("failed") + g.outcomes().value("skipped")
                        + g.outcomes().value("cut");
                assertEquals(warmUp.size(), counted, "every warm-up request ended before SERVING");
            } finally {
                await(client.close());
            }
        }
    }

    @Test
    void streamsStillRunningAtTheDeadlineAreCancelled() throws Exception {
        // The backend's streams never end by themselves: each must be cut at the deadline.
        long start = System.nanoTime();
        try (Gateway g = Gateway.start("warm-up-cut-test",
                "tandem.gateway.warm-up { duration = 2s, streams = 8, max-tokens = 200, proposers = [] }",
                backend -> backend.stalled = true)) {
            awaitServing(g);
            double took = (System.nanoTime() - start) / 1e9;
            assertTrue(took < 2 + 16, "SERVING soon after the deadline: " + took + " s");
            assertTrue(g.outcomes().value("cut") >= 1, "streams cut at the deadline");
            assertEquals(8.0, g.outcomes().value("cut"), "every stream of the round");
            assertEquals(0.0, g.outcomes().value("failed"));
            // Cutting a stream cancels it in the backend, as a client that goes away does.
            Await.until("the backend saw the cancellation", () -> g.backend().cancelled.get() >= 1, TIMEOUT);
        }
    }

    @Test
    void roundsThatOnlyFailArePacedAndTheWarmUpEndsOnTime() throws Exception {
        try (Gateway g = Gateway.start("warm-up-failing-test",
                "tandem.gateway.warm-up { duration = 2s, streams = 3, max-tokens = 4, proposers = [\"none\"] }",
                backend -> backend.unavailable = true)) {
            awaitServing(g);
            double failed = g.outcomes().value("failed");
            assertTrue(failed >= 5, "a round's requests failed: " + failed);
            // A round of 5 requests, then a pause of 200 ms: some tens of requests in 2 s, not a busy loop.
            assertTrue(g.backend().requests.size() <= 5 * (2000 / 200 + 2), "requests: " + g.backend().requests.size());
        }
    }

    @Test
    void offMeansServingAtOnce() throws Exception {
        try (Gateway g = Gateway.start("warm-up-off-test", "tandem.gateway.warm-up.duration = 0", backend -> {})) {
            assertEquals(ServingStatus.SERVING, g.status());
            assertEquals(0, g.backend().requests.size());
        }
    }

    private static void awaitServing(Gateway g) throws Exception {
        Await.until("health says SERVING", () -> {
            try {
                return g.status() == ServingStatus.SERVING;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, TIMEOUT);
    }

    private static ServingStatus status(HealthClient health) throws Exception {
        return await(health.check(HealthCheckRequest.newBuilder().setService("tandem.v1.Inference").build())).getStatus();
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
}
