package dev.tandem.ops;

import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeBootstrap;
import dev.tandem.cluster.NodeLogging;
import dev.tandem.cluster.NodeSettings;
import dev.tandem.engine.model.TandemHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;

/** Runs one cluster node in the foreground until SIGTERM (or Ctrl-C), which leaves the cluster gracefully. */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = {"Run one cluster node in the foreground until SIGTERM or Ctrl-C.",
                "",
                "A worker holds layer ranges of the model; a coordinator places them, schedules requests and serves "
                        + "gRPC (Inference, grpc.health.v1.Health, reflection, Admin.Status). SIGTERM makes the node "
                        + "leave the cluster gracefully. A node logs to a file.",
                "",
                "Example, three JVMs on this machine (or just 'tandem cluster up'):",
                "  tandem node --roles coordinator --port 25520 \\",
                "      --seeds 127.0.0.1:25520 --grpc-port 50051",
                "  tandem node --roles worker --port 25521 --seeds 127.0.0.1:25520",
                "  tandem node --roles worker --port 25522 --seeds 127.0.0.1:25520"})
public final class NodeCommand implements Callable<Integer> {

    /** --log-file value that sends the log to stdout (used by 'tandem cluster up', which redirects it). */
    static final String LOG_TO_STDOUT = "-";

    @picocli.CommandLine.Mixin
    ServerSpeculationOptions speculation;

    @Option(names = "--roles", required = true, split = ",", paramLabel = "ROLE",
            description = "Cluster roles, comma separated: worker, coordinator, or both.")
    List<String> roles;

    @Option(names = "--port", description = "Artery (cluster) port of this node; 0 = any free port. Default: from the profile (25520).")
    Integer port;

    @Option(names = "--host", description = "Address this node binds and is known by. Default: from the profile (127.0.0.1).")
    String host;

    @Option(names = "--seeds", split = ",", paramLabel = "HOST:PORT",
            description = "Seed nodes to join, comma separated. The first node of a new cluster lists itself (or none).")
    List<String> seeds;

    @Option(names = "--grpc-port", description = "gRPC port of a coordinator. Default: from the profile (50051).")
    Integer grpcPort;

    @Option(names = {"-m", "--model"}, paramLabel = "PATH|default",
            description = "The model served: 'default' (stories15M) or a llama2.c .bin / GGUF path. Default: default.")
    String model;

    @Option(names = "--threads", description = "Compute threads per worker stage (default: all cores).")
    Integer threads;

    @Option(names = "--profile", paramLabel = "NAME|FILE",
            description = "Configuration profile: local (default), lan, embedded, or a HOCON file.")
    String profile;

    @Option(names = {"-c", "--config"}, paramLabel = "KEY=VALUE",
            description = "Set any configuration key (repeatable), e.g. -c tandem.gateway.max-prompt-bytes=65536.")
    Map<String, String> config = new LinkedHashMap<>();

    @Option(names = "--metrics-port", description = "Port of this node's Prometheus endpoint (GET /metrics); 0 = any free port. Default: off.")
    Integer metricsPort;

    @Option(names = "--admin-token-file", paramLabel = "PATH",
            description = "File holding the admin token Admin calls must carry (coordinators). Default: "
                    + "tandem.admin.token, or a random token that is logged.")
    Path adminTokenFile;

    @Mixin
    ServerSecurity security = new ServerSecurity();

    @Option(names = "--log-file", paramLabel = "PATH|-",
            description = "Log file, or '-' for stdout. Default: $TANDEM_HOME/logs/node-PORT.log.")
    String logFile;

    @Override
    public Integer call() throws InterruptedException {
        NodeSettings settings = settings();
        Optional<Path> log = LOG_TO_STDOUT.equals(logFile) ? Optional.empty()
                : Optional.of(logFile != null ? Path.of(logFile)
                : TandemHome.root().resolve("logs").resolve("node-" + settings.port() + ".log"));
        NodeLogging.configure(log);
        log.ifPresent(path -> System.err.println("tandem: node logging to " + path));

        NodeBootstrap.TandemNode node = NodeBootstrap.start(settings);
        try {
            Optional<InetSocketAddress> grpc = node.ready().get();
            System.err.println("tandem: node " + node.address() + " is up with roles " + String.join(",", roles)
                    + grpc.map(a -> "; gRPC on " + a.getHostString() + ":" + a.getPort()).orElse(""));
        } catch (ExecutionException e) {
            node.system().getWhenTerminated().toCompletableFuture().join();
            throw CommandFailure.failed(e.getCause().getMessage() + log.map(p -> " (see " + p + ")").orElse(""));
        }
        // SIGTERM runs CoordinatedShutdown through the JVM hook; the node then leaves and the system ends.
        node.system().getWhenTerminated().toCompletableFuture().join();
        return 0;
    }

    NodeSettings settings() {
        Map<String, Object> overrides = new LinkedHashMap<>(config);
        overrides.put("tandem.node.roles", roles.stream().map(String::trim).filter(r -> !r.isEmpty()).toList());
        if (host != null) {
            overrides.put("tandem.node.host", host);
            overrides.put("tandem.node.grpc.host", host);
        }
        if (port != null) overrides.put("tandem.node.port", port);
        if (seeds != null) overrides.put("tandem.node.seeds", seeds.stream().map(s -> checkedSeed(s).toString()).toList());
        if (grpcPort != null) overrides.put("tandem.node.grpc.port", grpcPort);
        if (model != null) overrides.put("tandem.node.model", model);
        if (threads != null) overrides.put("tandem.node.threads", Threads.validateOrAll(threads));
        if (metricsPort != null) overrides.put("tandem.node.metrics.port", metricsPort);
        if (adminTokenFile != null) overrides.put(AdminToken.CONFIG_KEY, AdminToken.read(adminTokenFile));
        overrides.putAll(speculation.overrides());
        overrides.putAll(security.overrides());
        try {
            return NodeSettings.load(profile, overrides);
        } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
            throw CommandFailure.usage(e.getMessage());
        }
    }

    private static HostAndPort checkedSeed(String seed) {
        try {
            return HostAndPort.parse(seed);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage("--seeds: " + e.getMessage());
        }
    }
}
