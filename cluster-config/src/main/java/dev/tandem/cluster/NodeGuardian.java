package dev.tandem.cluster;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.cluster.typed.JoinSeedNodes;
import akka.cluster.typed.SelfUp;
import akka.cluster.typed.Subscribe;
import akka.http.javadsl.ServerBinding;
import akka.actor.Address;
import akka.actor.AddressFromURIString;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.AdminBackend;
import dev.tandem.coordinator.api.DraftAdmin;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.cluster.drafts.ClusterDraftAdmin;
import dev.tandem.cluster.drafts.DraftReplicator;
import dev.tandem.cluster.drafts.OnlineDistillation;
import dev.tandem.coordinator.grpc.AdminAuth;
import dev.tandem.coordinator.grpc.GatewayServer;
import dev.tandem.coordinator.grpc.GatewaySettings;
import dev.tandem.worker.WorkerNode;
import dev.tandem.worker.WorkerSettings;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The guardian of a node's ActorSystem: joins the cluster, and once this node is Up starts what its
 * roles ask for: the {@link WorkerNode} for a worker; the serving backend and the public gRPC
 * endpoint for a coordinator; with online distillation ({@code tandem.drafts.enabled}) the draft registry and
 * replicator on every node, the recorder and trainer on workers ({@link OnlineDistillation}). If the node cannot join in time or the gRPC port cannot be bound, the
 * guardian stops, which terminates the ActorSystem (and the node's process exits with an error).
 */
public final class NodeGuardian {

    public sealed interface Command {}

    private record MemberUp(SelfUp event) implements Command {}

    private record JoinTimedOut() implements Command {}

    private record GatewayBound(ServerBinding binding) implements Command {}

    private record GatewayFailed(Throwable cause) implements Command {}

    /** The admin token Admin calls must carry; empty = a random one generated at start (and logged). */
    public static final String ADMIN_TOKEN_KEY = "tandem.admin.token";
    /** Port of the node's Prometheus endpoint (GET /metrics); 0 = any free port, negative = off. */
    public static final String METRICS_PORT_KEY = "tandem.node.metrics.port";

    private NodeGuardian() {}

    /**
     * @param ready completed once the node is up and its roles started: with the bound gRPC address
     *              for a coordinator, empty for a worker-only node; failed when the node gives up
     */
    public static Behavior<Command> create(NodeSettings settings, CompletableFuture<Optional<InetSocketAddress>> ready) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            Cluster cluster = Cluster.get(context.getSystem());
            ActorRef<SelfUp> upAdapter = context.messageAdapter(SelfUp.class, MemberUp::new);
            cluster.subscriptions().tell(Subscribe.create(upAdapter, SelfUp.class));
            join(cluster, settings.seeds());
            timers.startSingleTimer(new JoinTimedOut(), settings.joinTimeout());
            context.getLog().info("node {} with roles {} joining via seeds {}", cluster.selfMember().address(),
                    settings.roles(), settings.seeds().isEmpty() ? "(none: starting a new cluster)" : settings.seeds());
            return joining(context, timers, settings, ready);
        }));
    }

    private static void join(Cluster cluster, List<HostAndPort> seeds) {
        if (seeds.isEmpty()) {
            cluster.manager().tell(Join.create(cluster.selfMember().address()));
        } else {
            List<Address> addresses = seeds.stream()
                    .map(seed -> AddressFromURIString.parse(NodeSettings.akkaAddress(seed))).toList();
            cluster.manager().tell(new JoinSeedNodes(addresses));
        }
    }

    private static Behavior<Command> joining(ActorContext<Command> context, TimerScheduler<Command> timers,
                                             NodeSettings settings, CompletableFuture<Optional<InetSocketAddress>> ready) {
        return Behaviors.receive(Command.class)
                .onMessage(MemberUp.class, up -> {
                    timers.cancel(new JoinTimedOut());
                    context.getLog().info("node {} is up", context.getSystem().address());
                    return startRoles(context, settings, ready);
                })
                .onMessage(JoinTimedOut.class, timeout -> {
                    String message = "could not join the cluster via seeds " + settings.seeds() + " within " + settings.joinTimeout();
                    context.getLog().error(message);
                    ready.completeExceptionally(new IllegalStateException(message));
                    return Behaviors.stopped();
                })
                .build();
    }

    private static Behavior<Command> startRoles(ActorContext<Command> context, NodeSettings settings,
                                                CompletableFuture<Optional<InetSocketAddress>> ready) {
        var config = context.getSystem().settings().config();
        int metricsPort = config.hasPath(METRICS_PORT_KEY) ? config.getInt(METRICS_PORT_KEY) : -1;
        if (metricsPort >= 0) {
            var log = context.getLog();
            MetricsServer.bind(context.getSystem(), settings.host(), metricsPort).whenComplete((binding, failure) -> {
                if (failure == null) log.info("serving metrics on http://{}:{}{}", binding.localAddress().getHostString(),
                        binding.localAddress().getPort(), MetricsServer.PATH);
                else log.error("cannot serve metrics on {}:{}: {}", settings.host(), metricsPort, failure.toString());
            });
        }
        boolean worker = settings.hasRole(NodeRole.WORKER);
        boolean coordinator = settings.hasRole(NodeRole.COORDINATOR);
        OnlineDistillation.Parts drafts;
        try {
            drafts = OnlineDistillation.prepare(config, worker, coordinator, cleanup -> onShutdown(context.getSystem(), cleanup));
        } catch (RuntimeException e) {
            context.getLog().error("cannot open the draft registry", e);
            ready.completeExceptionally(new IllegalStateException("cannot open the draft registry: " + e.getMessage(), e));
            return Behaviors.stopped();
        }
        if (worker) {
            context.spawn(WorkerNode.create(WorkerSettings.fromConfig(config), drafts.verificationListener()), WorkerNode.ACTOR_NAME);
        }
        if (!coordinator) {
            if (drafts.enabled()) OnlineDistillation.startActors(context, drafts, settings.modelName(), Set.of());
            ready.complete(Optional.empty());
            return Behaviors.empty();
        }
        InferenceBackend backend;
        CoordinatorSettings coordinatorSettings;
        try {
            coordinatorSettings = CoordinatorSettings.fromConfig(config);
            backend = CoordinatorRole.startBackend(context.getSystem(), drafts.draftSource());
        } catch (RuntimeException e) {
            context.getLog().error("the coordinator could not start its backend", e);
            ready.completeExceptionally(e);
            return Behaviors.stopped();
        }
        Optional<DraftAdmin> draftAdmin = Optional.empty();
        if (drafts.enabled()) {
            ActorRef<DraftReplicator.Command> replicator = OnlineDistillation.startActors(context, drafts,
                    coordinatorSettings.defaultModel(), coordinatorSettings.models().keySet());
            draftAdmin = Optional.of(new ClusterDraftAdmin(context.getSystem(), replicator, coordinatorSettings.models().keySet(),
                    drafts.settings().adminTimeout()));
        }
        Optional<DraftAdmin> adminDrafts = draftAdmin;
        Optional<dev.tandem.protocol.grpc.Admin> admin = backend instanceof AdminBackend a
                ? Optional.of(new AdminService(context.getSystem(), a, adminDrafts)) : Optional.empty();
        String token = config.hasPath(ADMIN_TOKEN_KEY) ? config.getString(ADMIN_TOKEN_KEY).trim() : "";
        if (token.isEmpty()) {
            token = AdminAuth.generateToken();
            context.getLog().warn("no admin token configured ({}): generated one for this run: {}", ADMIN_TOKEN_KEY, token);
        }
        Optional<javax.net.ssl.SSLContext> tls;
        GatewaySettings gatewaySettings;
        try {
            TlsSettings tlsSettings = TlsSettings.fromConfig(config);
            tls = tlsSettings.enabled() ? Optional.of(tlsSettings.serverContext()) : Optional.empty();
            gatewaySettings = GatewaySettings.fromConfig(config);
        } catch (RuntimeException e) {
            context.getLog().error("cannot configure the gRPC endpoint: {}", e.getMessage());
            ready.completeExceptionally(e);
            return Behaviors.stopped();
        }
        if (gatewaySettings.clientAuthRequired()) {
            context.getLog().info("Inference calls need one of {} client tokens", gatewaySettings.clientTokens().size());
        } else {
            context.getLog().info("Inference is open (no client tokens configured in tandem.gateway.client-auth)");
        }
        context.pipeToSelf(GatewayServer.bind(context.getSystem(), backend, gatewaySettings,
                        settings.grpcHost(), settings.grpcPort(), admin, Optional.of(token), tls),
                (binding, failure) -> failure == null ? new GatewayBound(binding) : new GatewayFailed(failure));
        return Behaviors.receive(Command.class)
                .onMessage(GatewayBound.class, bound -> {
                    context.getLog().info("serving gRPC on {} ({})", bound.binding().localAddress(),
                            tls.isPresent() ? "TLS" : "plain text");
                    ready.complete(Optional.of(bound.binding().localAddress()));
                    return Behaviors.empty();
                })
                .onMessage(GatewayFailed.class, failed -> {
                    context.getLog().error("cannot serve gRPC on {}:{}: {}", settings.grpcHost(), settings.grpcPort(),
                            failed.cause().toString());
                    ready.completeExceptionally(new IllegalStateException("cannot serve gRPC on " + settings.grpcHost() + ":"
                            + settings.grpcPort() + ": " + rootMessage(failed.cause()), failed.cause()));
                    return Behaviors.stopped();
                })
                .build();
    }

    /** The innermost cause's message, e.g. "Address already in use" rather than Akka's stage wrapper. */
    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }

    /**
     * Runs {@code cleanup} when the node shuts down: as a task of the coordinated shutdown, which a JVM exit (SIGTERM,
     * {@code cluster down}) waits for, and once the system has terminated, for a system terminated without the
     * coordinated shutdown (a test that simulates a crash turns it off). Why the task: on termination alone, the JVM
     * exited before the cleanup ran, and every node that {@code cluster down} stopped left its temporary draft
     * directory behind (hundreds of MB each). The cleanup is idempotent, so running twice costs nothing.
     */
    private static void onShutdown(ActorSystem<?> system, Runnable cleanup) {
        CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
                "tandem-delete-temporary-drafts", () -> {
                    cleanup.run();
                    return CompletableFuture.completedFuture(Done.getInstance());
                });
        system.getWhenTerminated().thenRun(cleanup);
    }
}
