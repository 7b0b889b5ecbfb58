package dev.tandem.cluster;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import dev.tandem.engine.jit.JitFailureLog;
import dev.tandem.engine.model.EngineSettings;

import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** Starts one Tandem node: an ActorSystem named {@value NodeSettings#SYSTEM_NAME} whose guardian is a {@link NodeGuardian}. */
public final class NodeBootstrap {

    private NodeBootstrap() {}

    public static TandemNode start(NodeSettings settings) {
        if (EngineSettings.fromConfig(settings.actorSystemConfig()).jitFailureLog()) JitFailureLog.start();
        CompletableFuture<Optional<InetSocketAddress>> ready = new CompletableFuture<>();
        ActorSystem<NodeGuardian.Command> system = ActorSystem.create(NodeGuardian.create(settings, ready),
                NodeSettings.SYSTEM_NAME, settings.actorSystemConfig());
        // A system that ends before it got ready (e.g. downed while joining) fails the readiness too.
        system.getWhenTerminated().thenRun(() -> ready.completeExceptionally(
                new IllegalStateException("node " + system.address() + " stopped before it was ready")));
        return new TandemNode(settings, system, ready);
    }

    /** A running node. */
    public record TandemNode(NodeSettings settings, ActorSystem<NodeGuardian.Command> system,
                             CompletableFuture<Optional<InetSocketAddress>> ready) implements AutoCloseable {

        /** The node's cluster address, e.g. akka://tandem@127.0.0.1:25520. */
        public String address() {
            return system.address().toString();
        }

        /** The Artery port actually bound (differs from the settings' when they said 0). */
        public int port() {
            return system.address().getPort().orElseThrow();
        }

        /** Leaves the cluster gracefully (CoordinatedShutdown) and waits until the ActorSystem has ended. */
        @Override
        public void close() {
            CoordinatedShutdown.get(system).runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture().join();
            system.getWhenTerminated().toCompletableFuture().join();
        }
    }
}
