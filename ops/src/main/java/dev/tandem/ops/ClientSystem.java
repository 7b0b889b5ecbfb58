package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import com.typesafe.config.ConfigFactory;
import dev.tandem.cluster.HostAndPort;
import org.slf4j.LoggerFactory;

import java.time.Duration;

/**
 * A small local ActorSystem for the command's gRPC clients. The classpath's reference.conf makes
 * every ActorSystem a cluster node by default; a client must not be one (it would bind Artery).
 */
final class ClientSystem {

    private static final String CLIENT_CONFIG = """
            akka.actor.provider = local
            akka.loglevel = WARNING
            akka.stdout-loglevel = OFF
            akka.log-dead-letters = off
            akka.coordinated-shutdown.run-by-jvm-shutdown-hook = off
            """;

    /** Connection attempts before a call fails: one, so that an unreachable server is reported at once. */
    private static final int CONNECTION_ATTEMPTS = 1;

    private ClientSystem() {}

    static ActorSystem<Void> create(String name) {
        // Initialize logging before Akka's threads do it concurrently (SLF4J would warn about replayed calls).
        LoggerFactory.getILoggerFactory();
        return ActorSystem.create(Behaviors.empty(), name,
                ConfigFactory.parseString(CLIENT_CONFIG).withFallback(ConfigFactory.load()));
    }

    /** Plaintext HTTP/2 client settings for a Tandem server. */
    static GrpcClientSettings settings(ActorSystem<?> system, HostAndPort target) {
        return settings(system, target, ClientSecurity.PLAIN);
    }

    /** Client settings for a Tandem server, plain text or TLS, with or without a client token. */
    static GrpcClientSettings settings(ActorSystem<?> system, HostAndPort target, ClientSecurity security) {
        return security.apply(GrpcClientSettings.connectToServiceAt(target.host(), target.port(), system)
                .withConnectionAttempts(CONNECTION_ATTEMPTS));
    }

    static void terminate(ActorSystem<?> system, Duration timeout) {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception ignored) {
            // the process is ending anyway
        }
    }
}
