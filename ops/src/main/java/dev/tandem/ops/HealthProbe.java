package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.health.HealthCheckRequest;
import dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus;
import dev.tandem.protocol.grpc.health.HealthClient;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Asks a server's grpc.health.v1.Health whether tandem.v1.Inference is SERVING. */
final class HealthProbe implements AutoCloseable {

    /** Pause between two polls while waiting for readiness. */
    static final Duration POLL_INTERVAL = Duration.ofMillis(500);
    /** Longest a single health call may take. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(3);

    private final ActorSystem<?> system;
    private final HostAndPort target;
    private final ClientSecurity security;
    private HealthClient client;

    HealthProbe(ActorSystem<?> system, HostAndPort target) {
        this(system, target, ClientSecurity.PLAIN);
    }

    HealthProbe(ActorSystem<?> system, HostAndPort target, ClientSecurity security) {
        this.system = system;
        this.target = target;
        this.security = security;
        this.client = HealthClient.create(ClientSystem.settings(system, target, security), system);
    }

    /** The current status, or UNKNOWN when the server cannot be reached. */
    ServingStatus status() {
        try {
            return client.check(HealthCheckRequest.newBuilder().setService(Inference.name).build())
                    .toCompletableFuture().get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).getStatus();
        } catch (Exception e) {
            // A client whose connection attempt failed stays failed: the next poll gets a fresh one.
            client.close();
            client = HealthClient.create(ClientSystem.settings(system, target, security), system);
            return ServingStatus.UNKNOWN;
        }
    }

    /**
     * Polls until SERVING; false when the deadline passes or {@code stillWorthWaiting} says to give up
     * (e.g. a node process died).
     */
    boolean awaitServing(Duration timeout, BooleanSupplier stillWorthWaiting) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (status() == ServingStatus.SERVING) return true;
            if (!stillWorthWaiting.getAsBoolean()) return false;
            Thread.sleep(POLL_INTERVAL.toMillis());
        }
        return status() == ServingStatus.SERVING;
    }

    @Override
    public void close() {
        client.close();
    }
}
