package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.NodeInfo;
import dev.tandem.protocol.grpc.StatusRequest;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Asks a coordinator's Admin.Status about the workers. A worker appears with its free memory once it
 * has described itself, i.e. once its start-up speed measurement is done.
 */
final class AdminProbe implements AutoCloseable {

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);

    private final ActorSystem<?> system;
    private final HostAndPort target;
    private final String token;
    private final ClientSecurity security;
    private AdminClient client;

    AdminProbe(ActorSystem<?> system, HostAndPort target, String token) {
        this(system, target, token, ClientSecurity.PLAIN);
    }

    AdminProbe(ActorSystem<?> system, HostAndPort target, String token, ClientSecurity security) {
        this.system = system;
        this.target = target;
        this.token = token;
        this.security = security.withoutToken();
        this.client = AdminClient.create(ClientSystem.settings(system, target, this.security), system);
    }

    /** Workers that have described themselves, or an empty list when the coordinator cannot be reached. */
    List<NodeInfo> describedWorkers() {
        try {
            return client.status().addHeader("authorization", "Bearer " + token).invoke(StatusRequest.getDefaultInstance())
                    .toCompletableFuture().get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .getNodesList().stream()
                    .filter(n -> n.getRolesList().contains("worker") && n.getMemoryFreeBytes() > 0)
                    .toList();
        } catch (Exception e) {
            // A client whose connection attempt failed stays failed: the next poll gets a fresh one.
            client.close();
            client = AdminClient.create(ClientSystem.settings(system, target, security), system);
            return List.of();
        }
    }

    /** Polls until at least {@code count} workers have described themselves. */
    boolean awaitDescribedWorkers(int count, Duration timeout, BooleanSupplier stillWorthWaiting) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (describedWorkers().size() >= count) return true;
            if (!stillWorthWaiting.getAsBoolean()) return false;
            Thread.sleep(HealthProbe.POLL_INTERVAL.toMillis());
        }
        return false;
    }

    @Override
    public void close() {
        client.close();
    }
}
