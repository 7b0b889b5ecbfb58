package dev.tandem.cluster;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import dev.tandem.worker.WorkerNode;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A whole cluster inside one JVM: a coordinator node and N worker nodes, each its own ActorSystem
 * talking Artery over loopback exactly as separate machines would (the {@code embedded} profile).
 */
public final class EmbeddedCluster implements AutoCloseable {

    public static final String PROFILE = "embedded";
    /** Pause between two looks for a worker's registration. */
    private static final Duration REGISTRATION_POLL = Duration.ofMillis(100);

    private final NodeBootstrap.TandemNode coordinator;
    private final List<NodeBootstrap.TandemNode> workers;
    private final InetSocketAddress grpcAddress;

    private EmbeddedCluster(NodeBootstrap.TandemNode coordinator, List<NodeBootstrap.TandemNode> workers,
                            InetSocketAddress grpcAddress) {
        this.coordinator = coordinator;
        this.workers = List.copyOf(workers);
        this.grpcAddress = grpcAddress;
    }

    /**
     * Starts the coordinator (a new cluster, gRPC on {@code grpcPort}, 0 = any free port), then the
     * workers seeded with it, and waits until every node is up (not until the model is ready: poll
     * gRPC health for that).
     *
     * @param overrides configuration overrides applied to every node (e.g. {@code tandem.node.model})
     */
    public static EmbeddedCluster start(int workerCount, int grpcPort, Map<String, ?> overrides, Duration timeout) {
        if (workerCount < 1) throw new IllegalArgumentException("an embedded cluster needs at least one worker, got " + workerCount);
        NodeSettings base = NodeSettings.load(PROFILE, overrides);
        NodeBootstrap.TandemNode coordinator = NodeBootstrap.start(base.withRoles(EnumSet.of(NodeRole.COORDINATOR))
                .withSeeds(List.of()).withGrpcPort(grpcPort));
        List<NodeBootstrap.TandemNode> workers = new ArrayList<>();
        try {
            InetSocketAddress grpc = await(coordinator, timeout).orElseThrow();
            HostAndPort seed = new HostAndPort(base.host(), coordinator.port());
            // One worker after the other, each once it has measured its speed: placement splits the
            // layers by speed, and measurements running at the same time would skew each other.
            for (int i = 0; i < workerCount; i++) {
                NodeBootstrap.TandemNode worker = NodeBootstrap.start(base.withRoles(EnumSet.of(NodeRole.WORKER))
                        .withSeeds(List.of(seed)));
                workers.add(worker);
                await(worker, timeout);
                awaitDescribed(worker, timeout);
            }
            return new EmbeddedCluster(coordinator, workers, grpc);
        } catch (RuntimeException e) {
            workers.forEach(NodeBootstrap.TandemNode::close);
            coordinator.close();
            throw e;
        }
    }

    private static Optional<InetSocketAddress> await(NodeBootstrap.TandemNode node, Duration timeout) {
        try {
            return node.ready().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting " + node.address(), e);
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("node " + node.address() + " did not start: " + cause.getMessage(), cause);
        }
    }

    /** Waits until the node's WorkerNode answers Describe, which it does once its start-up speed measurement is done. */
    private static void awaitDescribed(NodeBootstrap.TandemNode worker, Duration timeout) {
        ActorSystem<?> system = worker.system();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                // The registration is asynchronous: the local WorkerNode may not be listed yet.
                Receptionist.Listing listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
                                replyTo -> Receptionist.find(WorkerNode.SERVICE_KEY, replyTo), timeout, system.scheduler())
                        .toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                var local = listing.getServiceInstances(WorkerNode.SERVICE_KEY).stream()
                        .filter(ref -> ref.path().address().hasLocalScope()).findFirst();
                if (local.isPresent()) {
                    AskPattern.<WorkerNode.Command, WorkerNode.WorkerDescription>ask(local.get(), WorkerNode.Describe::new,
                            timeout, system.scheduler()).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    return;
                }
                if (System.nanoTime() > deadline) throw new IllegalStateException("no WorkerNode registered within " + timeout);
                Thread.sleep(REGISTRATION_POLL.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting " + worker.address(), e);
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("worker " + worker.address() + " did not describe itself: " + cause.getMessage(), cause);
        }
    }

    /** Where the coordinator serves gRPC. */
    public InetSocketAddress grpcAddress() { return grpcAddress; }

    public NodeBootstrap.TandemNode coordinator() { return coordinator; }

    public List<NodeBootstrap.TandemNode> workers() { return workers; }

    /** Blocks until every node's ActorSystem has ended (e.g. after SIGTERM ran their CoordinatedShutdown). */
    public void awaitTermination() {
        coordinator.system().getWhenTerminated().toCompletableFuture().join();
        for (NodeBootstrap.TandemNode w : workers) w.system().getWhenTerminated().toCompletableFuture().join();
    }

    /**
     * The coordinator leaves first (no new requests), then the workers. The whole cluster goes down, so each node's
     * connections to the nodes already gone fail, which Artery logs as warnings (e.g. "Upstream failed ... The
     * connection has been aborted", several per node) that mean nothing here: Akka's warnings are off for the close.
     */
    @Override
    public void close() {
        quietAkkaWarnings(coordinator);
        workers.forEach(EmbeddedCluster::quietAkkaWarnings);
        coordinator.close();
        workers.forEach(NodeBootstrap.TandemNode::close);
    }

    private static void quietAkkaWarnings(NodeBootstrap.TandemNode node) {
        node.system().classicSystem().eventStream().setLogLevel(akka.event.Logging.ErrorLevel());
    }
}
