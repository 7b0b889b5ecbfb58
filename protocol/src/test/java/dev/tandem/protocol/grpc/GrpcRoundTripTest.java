package dev.tandem.protocol.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import akka.grpc.GrpcServiceException;
import akka.grpc.javadsl.ServerReflection;
import akka.grpc.javadsl.ServiceHandler;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.japi.function.Function;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import dev.tandem.protocol.grpc.health.Health;
import dev.tandem.protocol.grpc.health.HealthCheckRequest;
import dev.tandem.protocol.grpc.health.HealthCheckResponse;
import dev.tandem.protocol.grpc.health.HealthClient;
import dev.tandem.protocol.grpc.health.HealthHandlerFactory;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import grpc.reflection.v1alpha.reflection.ServerReflectionClient;
import grpc.reflection.v1alpha.reflection.ServerReflectionRequest;
import grpc.reflection.v1alpha.reflection.ServerReflectionResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Proves the whole gRPC stack (generated stubs, Akka HTTP/2 server, Netty client) on this JDK: a
 * trivial Inference service bound on an ephemeral loopback port and called through the generated
 * clients, including a server stream and error statuses.
 */
class GrpcRoundTripTest {

  private static final long TIMEOUT_SECONDS = 20;

  private static ActorSystem<Void> system;
  private static ServerBinding binding;
  private static InferenceClient inference;
  private static HealthClient health;

  /** Echo-like Inference: one chunk per prompt word, then a final chunk with usage. */
  static final class WordEchoInference implements Inference {
    @Override
    public Source<GenerateChunk, NotUsed> generate(GenerateRequest in) {
      if (in.getPrompt().isEmpty()) {
        return Source.failed(new GrpcServiceException(
            Status.INVALID_ARGUMENT.withDescription("prompt must not be empty")));
      }
      if (!in.getModel().equals("stories15M")) {
        return Source.failed(new GrpcServiceException(
            Status.NOT_FOUND.withDescription("unknown model " + in.getModel())));
      }
      String[] words = in.getPrompt().split(" ");
      Source<GenerateChunk, NotUsed> body = Source.range(0, words.length - 1)
          .map(i -> GenerateChunk.newBuilder().setText(words[i]).addTokenIds(i).build());
      GenerateChunk last = GenerateChunk.newBuilder()
          .setFinishReason(FinishReason.FINISH_REASON_LENGTH)
          .setUsage(Usage.newBuilder().setPromptTokens(words.length).setCompletionTokens(words.length)
              .setProposer("none").setSteps(words.length))
          .build();
      return body.concat(Source.single(last));
    }

    @Override
    public CompletionStage<TokenizeResponse> tokenize(TokenizeRequest in) {
      if (in.getModel().isEmpty()) {
        return CompletableFuture.failedFuture(new GrpcServiceException(
            Status.INVALID_ARGUMENT.withDescription("model is required")));
      }
      TokenizeResponse.Builder out = TokenizeResponse.newBuilder();
      if (in.getAddBos()) {
        out.addTokenIds(1).addPieces("<s>");
      }
      for (int i = 0; i < in.getText().length(); i++) {
        out.addTokenIds(in.getText().charAt(i)).addPieces(String.valueOf(in.getText().charAt(i)));
      }
      return CompletableFuture.completedFuture(out.build());
    }

    @Override
    public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in) {
      return CompletableFuture.completedFuture(ListModelsResponse.newBuilder()
          .addModels(ModelInfo.newBuilder().setName("stories15M").setLayers(6).setDim(288)
              .setVocab(32000).setContextLength(256).setQuantization("f32").setReady(true))
          .build());
    }
  }

  /** Health that reports SERVING for the server and for Inference, NOT_FOUND otherwise. */
  static final class FixedHealth implements Health {
    @Override
    public CompletionStage<HealthCheckResponse> check(HealthCheckRequest in) {
      if (in.getService().isEmpty() || in.getService().equals(Inference.name)) {
        return CompletableFuture.completedFuture(HealthCheckResponse.newBuilder()
            .setStatus(HealthCheckResponse.ServingStatus.SERVING).build());
      }
      return CompletableFuture.failedFuture(new GrpcServiceException(Status.NOT_FOUND));
    }

    @Override
    public Source<HealthCheckResponse, NotUsed> watch(HealthCheckRequest in) {
      return Source.single(HealthCheckResponse.newBuilder()
          .setStatus(HealthCheckResponse.ServingStatus.SERVING).build());
    }
  }

  @BeforeAll
  static void bind() throws Exception {
    // Applications set this in their config (see protocol's reference.conf for why not there).
    Config config = ConfigFactory.parseString("akka.http.server.preview.enable-http2 = on")
        .withFallback(ConfigFactory.load());
    system = ActorSystem.create(Behaviors.empty(), "grpc-round-trip", config);
    Function<HttpRequest, CompletionStage<HttpResponse>> handler = ServiceHandler.concatOrNotFound(
        InferenceHandlerFactory.partial(new WordEchoInference(), Inference.name, system),
        HealthHandlerFactory.partial(new FixedHealth(), Health.name, system),
        ServerReflection.create(List.of(Inference.description, Health.description), system));
    binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(handler)
        .toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), system)
        .withTls(false);
    inference = InferenceClient.create(settings, system);
    health = HealthClient.create(settings, system);
  }

  @AfterAll
  static void unbind() throws Exception {
    inference.close().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    health.close().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    binding.terminate(Duration.ofSeconds(5)).toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  @Test
  void unaryCallsRoundTrip() throws Exception {
    ListModelsResponse models = await(inference.listModels(ListModelsRequest.getDefaultInstance()));
    assertEquals(1, models.getModelsCount());
    assertEquals("stories15M", models.getModels(0).getName());
    assertEquals(288, models.getModels(0).getDim());

    TokenizeResponse tokens = await(inference.tokenize(
        TokenizeRequest.newBuilder().setModel("stories15M").setText("hi").setAddBos(true).build()));
    assertEquals(List.of(1, (int) 'h', (int) 'i'), tokens.getTokenIdsList());
    assertEquals(List.of("<s>", "h", "i"), tokens.getPiecesList());
  }

  @Test
  void serverStreamDeliversEveryChunkThenUsage() throws Exception {
    GenerateRequest request = GenerateRequest.newBuilder()
        .setModel("stories15M").setPrompt("once upon a time").setMaxTokens(4).addStop("\n").build();
    List<GenerateChunk> chunks = await(inference.generate(request).runWith(Sink.seq(), system));
    assertEquals(5, chunks.size());
    assertEquals("once", chunks.get(0).getText());
    assertEquals("time", chunks.get(3).getText());
    GenerateChunk last = chunks.get(4);
    assertEquals(FinishReason.FINISH_REASON_LENGTH, last.getFinishReason());
    assertTrue(last.hasUsage());
    assertEquals(4, last.getUsage().getCompletionTokens());
    assertEquals("none", last.getUsage().getProposer());
  }

  @Test
  void streamingErrorArrivesAsStatus() {
    GenerateRequest empty = GenerateRequest.newBuilder().setModel("stories15M").build();
    StatusRuntimeException invalid = statusOf(inference.generate(empty).runWith(Sink.seq(), system));
    assertEquals(Status.Code.INVALID_ARGUMENT, invalid.getStatus().getCode());
    assertEquals("prompt must not be empty", invalid.getStatus().getDescription());

    GenerateRequest unknown = GenerateRequest.newBuilder().setModel("nope").setPrompt("x").build();
    assertEquals(Status.Code.NOT_FOUND,
        statusOf(inference.generate(unknown).runWith(Sink.seq(), system)).getStatus().getCode());
  }

  @Test
  void unaryErrorArrivesAsStatus() {
    StatusRuntimeException e = statusOf(inference.tokenize(TokenizeRequest.getDefaultInstance()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
  }

  @Test
  void healthServiceAnswers() throws Exception {
    HealthCheckResponse server = await(health.check(HealthCheckRequest.getDefaultInstance()));
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, server.getStatus());
    assertEquals(Status.Code.NOT_FOUND, statusOf(health.check(
        HealthCheckRequest.newBuilder().setService("no.such.Service").build())).getStatus().getCode());
  }

  @Test
  void serverReflectionListsTheServices() throws Exception {
    // Akka gRPC's reflection client is ScalaPB/scaladsl; this is what grpcurl talks to.
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), system).withTls(false);
    ServerReflectionClient reflection = ServerReflectionClient.apply(settings, system);
    try {
      ServerReflectionRequest request = ServerReflectionRequest.defaultInstance().withListServices("*");
      ServerReflectionResponse response = await(reflection
          .serverReflectionInfo(akka.stream.scaladsl.Source.single(request))
          .asJava()
          .runWith(Sink.head(), system));
      List<String> names = new ArrayList<>();
      response.getListServicesResponse().service().foreach(service -> names.add(service.name()));
      assertTrue(names.containsAll(List.of("tandem.v1.Inference", "grpc.health.v1.Health")), names.toString());
    } finally {
      await(scala.jdk.javaapi.FutureConverters.asJava(reflection.close()));
    }
  }

  private static StatusRuntimeException statusOf(CompletionStage<?> call) {
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> call.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    return assertInstanceOf(StatusRuntimeException.class, e.getCause());
  }
}
