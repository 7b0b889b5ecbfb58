package dev.tandem.coordinator.grpc;

import akka.actor.typed.ActorSystem;
import akka.grpc.javadsl.ServerReflection;
import akka.grpc.javadsl.ServiceHandler;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.japi.function.Function;
import akka.stream.Materializer;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.InferenceHandlerFactory;
import dev.tandem.protocol.grpc.health.Health;
import dev.tandem.protocol.grpc.health.HealthHandlerFactory;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Binds the public gRPC endpoint (HTTP/2 without TLS): Inference, grpc.health.v1.Health and server
 * reflection (so that {@code grpcurl} works without the .proto files). The binding is released
 * in CoordinatedShutdown's unbind phase, letting in-flight calls finish within the deadline.
 */
public final class GatewayServer {

    private GatewayServer() {}

    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, InferenceBackend backend,
                                                      GatewaySettings settings, String host, int port) {
        Materializer materializer = Materializer.matFromSystem(system);
        Function<HttpRequest, CompletionStage<HttpResponse>> handler = ServiceHandler.concatOrNotFound(
                InferenceHandlerFactory.partial(new InferenceService(backend, settings), Inference.name,
                        materializer, GatewayErrors.handler(), system),
                HealthHandlerFactory.partial(new GatewayHealth(backend, settings.healthWatchInterval()), Health.name,
                        materializer, GatewayErrors.handler(), system),
                ServerReflection.create(List.of(Inference.description, Health.description), system));
        return Http.get(system).newServerAt(host, port).bind(handler)
                .thenApply(binding -> binding.addToCoordinatedShutdown(settings.unbindDeadline(), system));
    }
}
