package dev.tandem.coordinator.grpc;

import akka.NotUsed;
import akka.stream.javadsl.Source;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.health.Health;
import dev.tandem.protocol.grpc.health.HealthCheckRequest;
import dev.tandem.protocol.grpc.health.HealthCheckResponse;
import dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;

/**
 * The standard {@code grpc.health.v1.Health} service: SERVING for the server ("") and for
 * {@code tandem.v1.Inference} once the backend serves at least one model, every model it
 * knows is ready and the gateway's warm-up ({@link GatewayWarmUp}) has ended; NOT_SERVING before that.
 * Other service names are NOT_FOUND, as the spec asks.
 */
public final class GatewayHealth implements Health {

    private final InferenceBackend backend;
    private final Duration watchInterval;
    private final BooleanSupplier warmedUp;

    public GatewayHealth(InferenceBackend backend, Duration watchInterval) {
        this(backend, watchInterval, () -> true);
    }

    /** @param warmedUp whether the gateway's warm-up has ended (SERVING waits for it) */
    public GatewayHealth(InferenceBackend backend, Duration watchInterval, BooleanSupplier warmedUp) {
        this.backend = backend;
        this.watchInterval = watchInterval;
        this.warmedUp = warmedUp;
    }

    /** True when the backend can take requests for every model it serves. */
    public static boolean modelsReady(InferenceBackend backend) {
        List<ModelDescriptor> models = backend.models();
        return !models.isEmpty() && models.stream().allMatch(ModelDescriptor::ready);
    }

    @Override
    public CompletionStage<HealthCheckResponse> check(HealthCheckRequest in) {
        if (!known(in.getService())) {
            return CompletableFuture.failedFuture(GatewayErrors.notFound("unknown service \"" + in.getService() + "\""));
        }
        return CompletableFuture.completedFuture(current());
    }

    @Override
    public Source<HealthCheckResponse, NotUsed> watch(HealthCheckRequest in) {
        if (!known(in.getService())) {
            // The spec: Watch reports SERVICE_UNKNOWN (and keeps the stream open) for unknown services.
            return Source.single(HealthCheckResponse.newBuilder().setStatus(ServingStatus.SERVICE_UNKNOWN).build())
                    .concat(Source.never());
        }
        return Source.tick(Duration.ZERO, watchInterval, NotUsed.getInstance())
                .map(tick -> current())
                .statefulMapConcat(() -> {
                    ServingStatus[] last = {null};
                    return response -> {
                        if (response.getStatus() == last[0]) return List.of();
                        last[0] = response.getStatus();
                        return List.of(response);
                    };
                })
                .mapMaterializedValue(cancellable -> NotUsed.getInstance());
    }

    private HealthCheckResponse current() {
        return HealthCheckResponse.newBuilder()
                .setStatus(modelsReady(backend) && warmedUp.getAsBoolean() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING)
                .build();
    }

    private static boolean known(String service) {
        return service.isEmpty() || service.equals(Inference.name);
    }
}
