package dev.tandem.coordinator.grpc;

import akka.actor.typed.ActorSystem;
import akka.grpc.ServiceDescription;
import akka.grpc.javadsl.ServerReflection;
import akka.grpc.javadsl.ServiceHandler;
import akka.http.javadsl.ConnectionContext;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBuilder;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.japi.function.Function;
import akka.stream.Materializer;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.protocol.grpc.Admin;
import dev.tandem.protocol.grpc.AdminHandlerFactory;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.InferencePowerApiHandlerFactory;
import dev.tandem.protocol.grpc.health.Health;
import dev.tandem.protocol.grpc.health.HealthHandlerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import javax.net.ssl.SSLContext;

/**
 * Binds the public gRPC endpoint (HTTP/2: h2c, or TLS with ALPN when given an SSLContext): Inference
 * (behind the {@link ClientGuard}: client tokens, streams per token, deadlines), grpc.health.v1.Health, optionally
 * the operator API (Admin), and server reflection (so that {@code grpcurl} works without the .proto
 * files). Once bound it warms the serving path up ({@link GatewayWarmUp}; health reports SERVING after that).
 * The binding is released in CoordinatedShutdown's unbind phase, letting in-flight calls finish within the deadline.
 */
public final class GatewayServer {

    private GatewayServer() {}

    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, InferenceBackend backend,
                                                      GatewaySettings settings, String host, int port) {
        return bind(system, backend, settings, host, port, Optional.empty());
    }

    /** Binds Inference, Health and reflection, plus the operator API (without a token check) when {@code admin} is given. */
    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, InferenceBackend backend,
                                                      GatewaySettings settings, String host, int port,
                                                      Optional<Admin> admin) {
        return bind(system, backend, settings, host, port, admin, Optional.empty());
    }

    /**
     * Binds Inference, Health and reflection, plus the operator API when {@code admin} is given; with
     * {@code adminToken}, Admin calls must carry it as {@code authorization: Bearer <token>} ({@link AdminAuth}).
     */
    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, InferenceBackend backend,
                                                      GatewaySettings settings, String host, int port,
                                                      Optional<Admin> admin, Optional<String> adminToken) {
        return bind(system, backend, settings, host, port, admin, adminToken, Optional.empty());
    }

    /**
     * As above; with {@code tls}, the endpoint speaks only HTTPS (HTTP/2 negotiated by ALPN), so a
     * plain-text client cannot connect.
     */
    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, InferenceBackend backend,
                                                      GatewaySettings settings, String host, int port,
                                                      Optional<Admin> admin, Optional<String> adminToken,
                                                      Optional<SSLContext> tls) {
        Materializer materializer = Materializer.matFromSystem(system);
        List<Function<HttpRequest, CompletionStage<HttpResponse>>> handlers = new ArrayList<>();
        List<ServiceDescription> descriptions = new ArrayList<>(List.of(Inference.description, Health.description));
        handlers.add(InferencePowerApiHandlerFactory.partial(new ClientGuard(new InferenceService(backend, settings), settings),
                Inference.name, materializer, GatewayErrors.handler(), system));
        GatewayWarmUp warmUp = new GatewayWarmUp(system, backend, settings);
        handlers.add(HealthHandlerFactory.partial(new GatewayHealth(backend, settings.healthWatchInterval(), warmUp::finished), Health.name,
                materializer, GatewayErrors.handler(), system));
        admin.ifPresent(a -> {
            Function<HttpRequest, CompletionStage<HttpResponse>> handler =
                    AdminHandlerFactory.partial(a, Admin.name, materializer, GatewayErrors.handler(), system);
            handlers.add(adminToken.isPresent() ? AdminAuth.protect(adminToken.get(), handler, "/" + Admin.name + "/") : handler);
            descriptions.add(Admin.description);
        });
        handlers.add(ServerReflection.create(descriptions, system));
        @SuppressWarnings("unchecked")
        Function<HttpRequest, CompletionStage<HttpResponse>>[] all = handlers.toArray(Function[]::new);
        Function<HttpRequest, CompletionStage<HttpResponse>> service = ServiceHandler.concatOrNotFound(all);
        // Every request body is cut off at the limit while it streams in, before protobuf parses it
        // (GatewayErrors reports RESOURCE_EXHAUSTED).
        long maxBytes = settings.maxRequestBytes();
        String inferencePrefix = "/" + Inference.name + "/";
        Function<HttpRequest, CompletionStage<HttpResponse>> limited = request -> {
            akka.http.javadsl.model.RequestEntity entity = (akka.http.javadsl.model.RequestEntity) request.entity().withSizeLimit(maxBytes);
            if (request.getUri().path().startsWith(inferencePrefix)) {
                @SuppressWarnings({"unchecked", "rawtypes"})
                akka.stream.scaladsl.Flow<akka.util.ByteString, akka.util.ByteString, Object> check =
                        (akka.stream.scaladsl.Flow) SingleMessage.check().asScala();
                entity = ((akka.http.scaladsl.model.RequestEntity) entity).transformDataBytes(check);
            }
            return service.apply(request.withEntity(entity));
        };
        // gRPC needs HTTP/2, which Akka HTTP 10.2 keeps behind a preview flag; set it on this binding
        // rather than in a reference.conf, whose merge order across jars is not ours to choose.
        ServerBuilder builder = Http.get(system).newServerAt(host, port)
                .adaptSettings(s -> s.withPreviewServerSettings(s.getPreviewServerSettings().withEnableHttp2(true)));
        if (tls.isPresent()) builder = builder.enableHttps(ConnectionContext.httpsServer(tls.get()));
        return builder.bind(limited)
                .thenApply(binding -> {
                    // Through the handler the binding serves, so the warm-up's requests take a client's path.
                    warmUp.run(limited);
                    return binding.addToCoordinatedShutdown(settings.unbindDeadline(), system);
                });
    }
}
