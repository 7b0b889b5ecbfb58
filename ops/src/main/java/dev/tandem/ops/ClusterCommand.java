package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.protocol.grpc.health.HealthCheckResponse.ServingStatus;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** A local cluster of separate JVMs on loopback: up, down, status. */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = {"Run a local cluster of separate JVMs in the background.",
                "",
                "One coordinator and N workers on loopback. State: $TANDEM_HOME/cluster/cluster.json; logs: "
                        + "$TANDEM_HOME/cluster/logs/<node>.log."},
        subcommands = {ClusterCommand.Up.class, ClusterCommand.Down.class, ClusterCommand.Status.class})
public final class ClusterCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    @Command(name = "up", mixinStandardHelpOptions = true,
            description = {"Start a local cluster and return once it serves.",
                    "",
                    "Starts a coordinator and N workers as separate JVMs (this java and class path), waits until gRPC "
                            + "health says SERVING, prints where it serves, and returns. Stop it with 'tandem cluster down'. "
                            + "The coordinator reports SERVING after warming its serving path up with requests of its own "
                            + "(15 s; -c tandem.gateway.warm-up.duration=0 turns that off, and the first ~40 s of traffic "
                            + "then run at a fraction of the speed)."})
    static final class Up implements Callable<Integer> {

        @Option(names = "--workers", defaultValue = "2", description = "Worker nodes (pipeline stages). Default: ${DEFAULT-VALUE}.")
        int workers;

        @Option(names = "--grpc-port", defaultValue = "50051", description = "gRPC port of the coordinator. Default: ${DEFAULT-VALUE}.")
        int grpcPort;

        @Option(names = {"-m", "--model"}, defaultValue = "default", paramLabel = "PATH|default",
                description = "The model served: 'default' (stories15M) or a llama2.c .bin / GGUF path. Default: ${DEFAULT-VALUE}.")
        String model;

        @Mixin
        ClusterStartOptions start;

        @Override
        public Integer call() throws InterruptedException {
            if (workers < 1) throw CommandFailure.usage("--workers must be at least 1, got " + workers);
            if (grpcPort < 1 || grpcPort > 65_535) throw CommandFailure.usage("--grpc-port must be in [1, 65535], got " + grpcPort);
            LocalCluster cluster = LocalCluster.standard();
            System.err.println("tandem: starting 1 coordinator and " + workers + " workers (logs in " + cluster.logsDir()
                    + "); it serves once the coordinator has warmed up (tandem.gateway.warm-up)...");
            LocalCluster.State state = cluster.up(start.applyTo(new LocalCluster.Spec(workers, grpcPort, model, start.threadsPerWorker(),
                    start.readyTimeout(), start.speculation.overrides(), start.security)));
            System.out.println("tandem: cluster serving " + model + " on " + state.grpc() + (state.tls().isEmpty() ? " (gRPC)" : " (gRPC over TLS)"));
            for (LocalCluster.Node n : state.nodes()) {
                System.out.printf(Locale.ROOT, "  %-12s %-12s %-30s pid %-8d %s%n", n.name(), String.join(",", n.roles()),
                        n.address(), n.pid(), n.log());
            }
            String tls = state.tls().isEmpty() ? "" : " --tls " + state.tls();
            System.out.println("try: tandem generate --target " + state.grpc() + tls + " --prompt \"Once upon a time\"; stop: tandem cluster down");
            return 0;
        }
    }

    @Command(name = "down", mixinStandardHelpOptions = true,
            description = {"Stop the local cluster.", "",
                    "SIGTERM to every node (a graceful leave), SIGKILL after the grace period."})
    static final class Down implements Callable<Integer> {

        @Option(names = "--grace", defaultValue = "20", paramLabel = "SECONDS",
                description = "Seconds a node gets to leave before it is killed. Default: ${DEFAULT-VALUE}.")
        int graceSeconds;

        @Override
        public Integer call() {
            LocalCluster cluster = LocalCluster.standard();
            List<String> report = cluster.down(Duration.ofSeconds(Math.max(0, graceSeconds)));
            if (report.isEmpty()) {
                System.out.println("tandem: no local cluster is recorded (" + cluster.stateFile() + ")");
            } else {
                report.forEach(line -> System.out.println("tandem: " + line));
            }
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = {"Say what runs.", "",
                    "The gRPC endpoint and its health, and each node's roles, address, pid, liveness and log file."})
    static final class Status implements Callable<Integer> {

        @Option(names = "--json", description = "Print one JSON object on stdout.")
        boolean json;

        @Override
        public Integer call() {
            LocalCluster cluster = LocalCluster.standard();
            Optional<LocalCluster.State> state = cluster.read();
            if (state.isEmpty()) {
                if (json) System.out.println(Json.write(Map.of("running", false)));
                else System.out.println("tandem: no local cluster is running (start one with 'tandem cluster up')");
                return 0;
            }
            LocalCluster.State s = state.get();
            ServingStatus health = health(s);
            if (json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("running", s.nodes().stream().anyMatch(LocalCluster.Node::alive));
                out.put("grpc", s.grpc());
                out.put("health", health.name());
                out.put("model", s.model());
                out.put("nodes", s.nodes().stream().map(n -> {
                    Map<String, Object> m = n.toJson();
                    m.put("alive", n.alive());
                    return m;
                }).toList());
                System.out.println(Json.write(out));
                return 0;
            }
            System.out.println("gRPC    " + s.grpc() + " (" + health.name() + ")");
            System.out.println("model   " + s.model());
            System.out.printf(Locale.ROOT, "%-12s %-12s %-30s %-8s %-6s %-38s %s%n", "NODE", "ROLES", "ADDRESS", "PID", "ALIVE", "METRICS", "LOG");
            for (LocalCluster.Node n : s.nodes()) {
                System.out.printf(Locale.ROOT, "%-12s %-12s %-30s %-8d %-6s %-38s %s%n", n.name(), String.join(",", n.roles()),
                        n.address(), n.pid(), n.alive() ? "yes" : "no", n.metricsUrl().isEmpty() ? "-" : n.metricsUrl(), n.log());
            }
            return 0;
        }

        private static ServingStatus health(LocalCluster.State s) {
            ActorSystem<Void> system = ClientSystem.create("tandem-cluster-status");
            try (HealthProbe probe = new HealthProbe(system, s.grpcTarget(), s.clientSecurity(null).withoutToken())) {
                return probe.status();
            } finally {
                ClientSystem.terminate(system, Duration.ofSeconds(5));
            }
        }
    }
}
