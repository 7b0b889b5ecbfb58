package dev.tandem.coordinator.grpc;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import akka.http.javadsl.ServerBinding;
import akka.stream.javadsl.Sink;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.protocol.grpc.FinishReason;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.ListModelsRequest;
import dev.tandem.protocol.grpc.TokenizeRequest;
import dev.tandem.protocol.grpc.TokenizeResponse;
import dev.tandem.protocol.grpc.health.HealthCheckRequest;
import dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus;
import dev.tandem.protocol.grpc.health.HealthClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gateway bound on loopback over a single-process engine backend, called through the generated
 * client: output mapping, every validation path with its status and message, health, cancellation.
 */
class InferenceServiceTest {

    private static final long TIMEOUT_SECONDS = 60;
    private static final int CONTEXT = 256;

    private static ActorSystem<Void> system;
    private static LoadedModel model;
    private static ParallelRunner runner;
    private static LocalEngineBackend backend;
    private static LocalGenerator reference;
    private static ServerBinding binding;
    private static InferenceClient client;
    private static HealthClient health;

    @BeforeAll
    static void start() throws Exception {
        system = ActorSystem.create(Behaviors.empty(), "gateway-test", ConfigFactory.load());
        model = Llama2cModelLoader.load(TandemHome.defaultModelDir().resolve("model.bin"));
        runner = new ParallelRunner(2);
        BpeTokenizer tokenizer = BpeTokenizer.fromLlama2c(TandemHome.defaultModelDir().resolve("tokenizer.bin"),
                model.config().vocabSize());
        backend = new LocalEngineBackend(new LocalGenerator(model.weights(), tokenizer, runner));
        reference = new LocalGenerator(model.weights(), tokenizer, runner);
        binding = await(GatewayServer.bind(system, backend, GatewaySettings.fromConfig(system.settings().config()), "127.0.0.1", 0));
        GrpcClientSettings settings = GrpcClientSettings
                .connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), system).withTls(false);
        client = InferenceClient.create(settings, system);
        health = HealthClient.create(settings, system);
    }

    @AfterAll
    static void stop() throws Exception {
        client.close().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        health.close().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        await(binding.terminate(Duration.ofSeconds(5)));
        system.terminate();
        await(system.getWhenTerminated());
        backend.close();
        runner.close();
        model.close();
    }

    @Test
    void greedyStreamEqualsTheEngineAndEndsWithUsage() throws Exception {
        String prompt = "Once upon a time";
        List<GenerateChunk> chunks = await(client.generate(greedy(prompt, 40)).runWith(Sink.seq(), system));
        StringBuilder text = new StringBuilder();
        for (GenerateChunk c : chunks) text.append(c.getText());
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        reference.generate(GenerationRequest.greedy(prompt, 40), (bytes, token) -> expected.writeBytes(bytes));
        assertEquals(expected.toString(StandardCharsets.UTF_8), text.toString());

        GenerateChunk last = chunks.getLast();
        assertEquals(FinishReason.FINISH_REASON_LENGTH, last.getFinishReason());
        assertEquals(40, last.getUsage().getCompletionTokens());
        assertTrue(last.getUsage().getPromptTokens() > 1);
        for (GenerateChunk c : chunks.subList(0, chunks.size() - 1)) {
            assertEquals(FinishReason.FINISH_REASON_UNSPECIFIED, c.getFinishReason());
            assertTrue(!c.hasUsage());
        }
    }

    @Test
    void echoPromptComesFirst() throws Exception {
        GenerateRequest request = greedy("Lily and Ben", 5).toBuilder().setEchoPrompt(true).build();
        List<GenerateChunk> chunks = await(client.generate(request).runWith(Sink.seq(), system));
        assertEquals("Lily and Ben", chunks.getFirst().getText());
        assertEquals(1, chunks.getFirst().getTokenIds(0), "BOS first");
    }

    @Test
    void badRequestsGetPreciseStatusesAndTheNextOneSucceeds() throws Exception {
        assertStatus(Status.Code.INVALID_ARGUMENT, "prompt must not be empty", greedy("", 5));
        assertStatus(Status.Code.INVALID_ARGUMENT, "model is required", greedy("x", 5).toBuilder().setModel("").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "max_tokens must be in [1, 256]", greedy("x", -1));
        assertStatus(Status.Code.INVALID_ARGUMENT, "got 257", greedy("x", CONTEXT + 1));
        assertStatus(Status.Code.INVALID_ARGUMENT, "temperature must be in [0, 2.0], got 2.5",
                greedy("x", 5).toBuilder().setTemperature(2.5f).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "temperature", greedy("x", 5).toBuilder().setTemperature(Float.NaN).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "top_p must be in [0, 1]", greedy("x", 5).toBuilder().setTopP(1.5f).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "top_k must be >= 0", greedy("x", 5).toBuilder().setTopK(-3).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "stop[0] must not be empty", greedy("x", 5).toBuilder().addStop("").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "at most 16 stop strings",
                greedy("x", 5).toBuilder().addAllStop(java.util.Collections.nCopies(17, "a")).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "speculate must be one of",
                greedy("x", 5).toBuilder().setSpeculate("magic").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "prompt is 32769 bytes of UTF-8, more than the limit of 32768 bytes",
                greedy("a".repeat(32 * 1024 + 1), 5));
        assertStatus(Status.Code.NOT_FOUND, "model \"gpt-17\" is not served here; served: stories15M",
                greedy("x", 5).toBuilder().setModel("gpt-17").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, GatewayErrors.INVALID_UTF8, withInvalidUtf8Prompt());

        List<GenerateChunk> ok = await(client.generate(greedy("Once upon a time", 3)).runWith(Sink.seq(), system));
        assertEquals(3, ok.getLast().getUsage().getCompletionTokens());
    }

    @Test
    void notReadyIsUnavailableAndHealthFollowsReadiness() throws Exception {
        assertEquals(ServingStatus.SERVING, await(health.check(HealthCheckRequest.getDefaultInstance())).getStatus());
        backend.ready = false;
        try {
            assertEquals(ServingStatus.NOT_SERVING, await(health.check(HealthCheckRequest.newBuilder()
                    .setService("tandem.v1.Inference").build())).getStatus());
            assertStatus(Status.Code.UNAVAILABLE, "is not ready yet", greedy("x", 5));
        } finally {
            backend.ready = true;
        }
        StatusRuntimeException unknown = statusOf(health.check(HealthCheckRequest.newBuilder().setService("nope").build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
    }

    @Test
    void tokenizeAndListModels() throws Exception {
        TokenizeResponse tokens = await(client.tokenize(TokenizeRequest.newBuilder().setModel("stories15M")
                .setText("Once upon a time").setAddBos(true).build()));
        assertEquals(1, tokens.getTokenIds(0));
        assertEquals(tokens.getTokenIdsCount(), tokens.getPiecesCount());
        assertEquals(Status.Code.NOT_FOUND, statusOf(client.tokenize(TokenizeRequest.newBuilder().setModel("nope").build()))
                .getStatus().getCode());
        var models = await(client.listModels(ListModelsRequest.getDefaultInstance()));
        assertEquals("stories15M", models.getModels(0).getName());
        assertEquals(CONTEXT, models.getModels(0).getContextLength());
        assertTrue(models.getModels(0).getReady());
    }

    @Test
    void cancellingTheClientStreamCancelsTheBackend() throws Exception {
        int before = backend.cancelled.get();
        List<GenerateChunk> firstTwo = await(client.generate(greedy("Once upon a time", 0)).take(2).runWith(Sink.seq(), system));
        assertEquals(2, firstTwo.size());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (backend.cancelled.get() == before && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(before + 1, backend.cancelled.get(), "the backend saw the cancellation");
        assertEquals(2, await(client.generate(greedy("Once upon a time", 2)).runWith(Sink.seq(), system))
                .getLast().getUsage().getCompletionTokens());
    }

    /** A request whose prompt field (2) carries bytes that are not UTF-8, smuggled in as an unknown field. */
    private static GenerateRequest withInvalidUtf8Prompt() {
        byte[] invalid = {'h', 'i', (byte) 0xC3, (byte) 0x28, (byte) 0xFF};
        return GenerateRequest.newBuilder().setModel("stories15M").setMaxTokens(5)
                .setUnknownFields(UnknownFieldSet.newBuilder()
                        .addField(GenerateRequest.PROMPT_FIELD_NUMBER, UnknownFieldSet.Field.newBuilder()
                                .addLengthDelimited(ByteString.copyFrom(invalid)).build())
                        .build())
                .build();
    }

    private static GenerateRequest greedy(String prompt, int maxTokens) {
        return GenerateRequest.newBuilder().setModel("stories15M").setPrompt(prompt).setMaxTokens(maxTokens).build();
    }

    private static void assertStatus(Status.Code code, String messagePart, GenerateRequest request) {
        StatusRuntimeException e = statusOf(client.generate(request).runWith(Sink.seq(), system));
        assertEquals(code, e.getStatus().getCode(), () -> "status of " + e.getStatus());
        String description = e.getStatus().getDescription();
        assertTrue(description != null && description.contains(messagePart), () -> "message: " + description);
    }

    private static StatusRuntimeException statusOf(CompletionStage<?> call) {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> call.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause());
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
}
