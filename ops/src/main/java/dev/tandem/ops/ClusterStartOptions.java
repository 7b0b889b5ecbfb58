package dev.tandem.ops;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** Options shared by the commands that start a cluster. */
public final class ClusterStartOptions {

    @Option(names = "--threads", description = "Compute threads per worker (default: all cores).")
    Integer threads;

    @Mixin
    ServerSecurity security;

    @Option(names = "--ready-timeout", defaultValue = "180", paramLabel = "SECONDS",
            description = "How long to wait for the cluster to serve. Default: ${DEFAULT-VALUE}.")
    int readyTimeoutSeconds;

    @Mixin
    ServerSpeculationOptions speculation;

    @Option(names = {"-c", "--config"}, paramLabel = "KEY=VALUE",
            description = "Set a configuration key on every node (repeatable), e.g. -c tandem.drafts.train=off.")
    Map<String, String> nodeConfig = new LinkedHashMap<>();

    /** {@code spec} with the -c settings added to every node. */
    LocalCluster.Spec applyTo(LocalCluster.Spec spec) {
        return spec.withNodeConfig(nodeConfig);
    }

    int threadsPerWorker() {
        return threads == null ? 0 : Threads.validate(threads);
    }

    Duration readyTimeout() {
        if (readyTimeoutSeconds < 1) throw CommandFailure.usage("--ready-timeout must be at least 1 second");
        return Duration.ofSeconds(readyTimeoutSeconds);
    }
}
