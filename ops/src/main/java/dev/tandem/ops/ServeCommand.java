package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeLogging;
import dev.tandem.engine.model.TandemHome;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** The embedded default: a coordinator and N workers, each its own ActorSystem on loopback, in this JVM. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over gRPC from a whole cluster inside this JVM.",
                "",
                "One coordinator and N worker nodes, each its own ActorSystem talking Artery over loopback, the "
                        + "layers split over the workers. Runs until SIGTERM or Ctrl-C. Logs go to "
                        + "$TANDEM_HOME/logs/serve.log. For separate JVMs use 'tandem cluster up'; for several machines "
                        + "'tandem node'."})
public final class ServeCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, defaultValue = "default", paramLabel = "PATH|default",
            description = "The model served: 'default' (stories15M) or a llama2.c .bin / GGUF path. Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--workers", defaultValue = "2", description = "Worker nodes (pipeline stages). Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(names = "--grpc-port", defaultValue = "50051", description = "gRPC port; 0 = any free port. Default: ${DEFAULT-VALUE}.")
    int grpcPort;

    @Option(names = "--admin-token-file", paramLabel = "PATH",
            description = "File holding the admin token for 'tandem ctl'. Default: a fresh token written to "
                    + "$TANDEM_HOME/cluster/admin.token.")
    Path adminTokenFile;

    @Mixin
    ClusterStartOptions start;

    @Override
    public Integer call() throws InterruptedException {
        if (workers < 1) throw CommandFailure.usage("--workers must be at least 1, got " + workers);
        Path log = TandemHome.root().resolve("logs").resolve("serve.log");
        NodeLogging.configure(Optional.of(log));
        Map<String, Object> overrides = new LinkedHashMap<>();
        overrides.put("tandem.node.model", model);
        overrides.put("tandem.node.threads", start.threadsPerWorker());
        overrides.put(LocalCluster.MIN_WORKERS_KEY, workers);
        overrides.putAll(start.speculation.overrides());
        overrides.putAll(start.security.overrides());
        if (adminTokenFile != null) {
            overrides.put(AdminToken.CONFIG_KEY, AdminToken.read(adminTokenFile));
        } else {
            Path file = AdminToken.defaultFile();
            overrides.put(AdminToken.CONFIG_KEY, AdminToken.writeFresh(file));
            System.err.println("tandem: admin token written to " + file);
        }
        System.err.println("tandem: starting 1 coordinator and " + workers + " workers in this JVM (log: " + log + ")");
        EmbeddedCluster cluster;
        try {
            cluster = EmbeddedCluster.start(workers, grpcPort, overrides, start.readyTimeout());
        } catch (RuntimeException e) {
            throw CommandFailure.failed(e.getMessage() + " (see " + log + ")");
        }
        HostAndPort target = new HostAndPort(cluster.grpcAddress().getHostString(), cluster.grpcAddress().getPort());
        ActorSystem<Void> client = ClientSystem.create("tandem-serve-probe");
        try (HealthProbe probe = new HealthProbe(client, target, start.security.probe())) {
            if (!probe.awaitServing(start.readyTimeout(), () -> true)) {
                cluster.close();
                throw CommandFailure.failed("the model did not become ready within " + start.readyTimeout().toSeconds()
                        + " s (see " + log + ")");
            }
        } finally {
            ClientSystem.terminate(client, Duration.ofSeconds(5));
        }
        String tls = start.security.tlsDir().map(d -> " --tls " + d).orElse("");
        System.err.println("tandem: serving " + model + " on " + target + " (gRPC" + (tls.isEmpty() ? "" : " over TLS")
                + "; try 'tandem generate --target " + target + tls + " --prompt \"Once upon a time\"'); Ctrl-C stops");
        // SIGTERM / Ctrl-C run every node's CoordinatedShutdown through the JVM hook.
        cluster.awaitTermination();
        return 0;
    }
}
