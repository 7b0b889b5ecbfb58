package dev.tandem.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.TandemHome;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed view of {@code tandem.node}: what one node is (roles, Artery address, seeds, gRPC endpoint,
 * model, threads), together with the whole configuration it was read from, which the node's modules
 * read their own settings from.
 *
 * <p>Layering, highest first: command-line overrides, JVM system properties, a profile (a built-in
 * name such as {@code local}, {@code embedded}, {@code lan}, or a HOCON file), application.conf,
 * the modules' reference.conf files.
 */
public record NodeSettings(Set<NodeRole> roles, String host, int port, List<HostAndPort> seeds,
                           String grpcHost, int grpcPort, String model, int threads, Duration joinTimeout,
                           Config config) {

    public static final String PATH = "tandem.node";
    /** Every node of a Tandem cluster runs an ActorSystem of this name (Akka requires one name per cluster). */
    public static final String SYSTEM_NAME = "tandem";
    public static final String DEFAULT_PROFILE = "local";
    private static final String PROFILE_RESOURCES = "tandem/profiles/";

    public NodeSettings {
        roles = Set.copyOf(roles);
        seeds = List.copyOf(seeds);
        if (roles.isEmpty()) throw new IllegalArgumentException("a node needs at least one role (coordinator, worker)");
        if (port < 0 || port > HostAndPort.MAX_PORT) throw new IllegalArgumentException("the Artery port must be in [0, 65535], got " + port);
        if (grpcPort < 0 || grpcPort > HostAndPort.MAX_PORT) throw new IllegalArgumentException("the gRPC port must be in [0, 65535], got " + grpcPort);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = all processors), got " + threads);
    }

    /**
     * Settings of a node from a profile plus overrides of {@code tandem.node} keys (or any other
     * config path), e.g. {@code Map.of("tandem.node.port", 25521)}.
     */
    public static NodeSettings load(String profile, Map<String, ?> overrides) {
        Config layered = ConfigFactory.parseMap(overrides, "command line")
                .withFallback(ConfigFactory.systemProperties())
                .withFallback(profileConfig(profile))
                .withFallback(ConfigFactory.defaultApplication())
                .withFallback(ConfigFactory.defaultReference())
                .resolve();
        TlsSettings.fromConfig(layered); // a missing store is a start-up error with a sentence, not a failed bind later
        return fromConfig(layered);
    }

    public static NodeSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        Set<NodeRole> roles = EnumSet.noneOf(NodeRole.class);
        for (String r : c.getStringList("roles")) roles.add(NodeRole.parse(r));
        List<HostAndPort> seeds = c.getStringList("seeds").stream().map(HostAndPort::parse).toList();
        return new NodeSettings(roles, c.getString("host"), c.getInt("port"), seeds,
                c.getString("grpc.host"), c.getInt("grpc.port"), c.getString("model"), c.getInt("threads"),
                c.getDuration("join-timeout"), root);
    }

    /** A built-in profile by name, or a HOCON file by path. */
    static Config profileConfig(String profile) {
        String name = profile == null || profile.isBlank() ? DEFAULT_PROFILE : profile;
        Config builtIn = ConfigFactory.parseResources(NodeSettings.class.getClassLoader(), PROFILE_RESOURCES + name + ".conf");
        if (!builtIn.isEmpty()) return builtIn;
        Path file = Path.of(name);
        if (Files.isRegularFile(file)) return ConfigFactory.parseFile(file.toFile());
        throw new IllegalArgumentException("unknown profile \"" + name + "\": use local, embedded, lan, or a path to a HOCON file");
    }

    public boolean hasRole(NodeRole role) {
        return roles.contains(role);
    }

    /** The name the served model goes by (the file name without extension, or stories15M for "default"). */
    public String modelName() {
        return modelName(model);
    }

    public static String modelName(String spec) {
        if (spec == null || spec.isBlank() || spec.equals(OpenedModel.DEFAULT_SPEC)) return TandemHome.DEFAULT_MODEL;
        return Path.of(spec).getFileName().toString().replaceFirst("\\.(bin|gguf)$", "");
    }

    /** The Akka address of a seed in this cluster. */
    public static String akkaAddress(HostAndPort node) {
        return "akka://" + SYSTEM_NAME + "@" + node;
    }

    /**
     * The full configuration of the node's ActorSystem: the Akka and module settings that follow from
     * the typed node settings (Artery address, roles, the served model on workers and coordinators,
     * threads) over the loaded config.
     */
    public Config actorSystemConfig() {
        // withValue replaces (a fallback would merge objects: the reference's model map would stay).
        // TLS (tandem.tls) switches Artery to tls-tcp with mutual authentication.
        return TlsSettings.fromConfig(config).arteryConfig().withFallback(config)
                // gRPC needs HTTP/2, which Akka HTTP 10.2 keeps behind this flag (off in its reference.conf).
                .withValue("akka.http.server.preview.enable-http2", ConfigValueFactory.fromAnyRef(true))
                .withValue("akka.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host))
                .withValue("akka.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
                .withValue("akka.cluster.roles", ConfigValueFactory.fromIterable(
                        roles.stream().map(NodeRole::roleName).sorted().toList()))
                .withValue("tandem.worker.models", ConfigValueFactory.fromMap(Map.of(modelName(), model)))
                .withValue("tandem.coordinator.models", ConfigValueFactory.fromMap(Map.of(modelName(), model)))
                .withValue("tandem.coordinator.default-model", ConfigValueFactory.fromAnyRef(modelName()))
                .withValue("tandem.worker.threads", ConfigValueFactory.fromAnyRef(threads));
    }

    public NodeSettings withRoles(Set<NodeRole> newRoles) {
        return new NodeSettings(newRoles, host, port, seeds, grpcHost, grpcPort, model, threads, joinTimeout, config);
    }

    public NodeSettings withPort(int newPort) {
        return new NodeSettings(roles, host, newPort, seeds, grpcHost, grpcPort, model, threads, joinTimeout, config);
    }

    public NodeSettings withSeeds(List<HostAndPort> newSeeds) {
        return new NodeSettings(roles, host, port, newSeeds, grpcHost, grpcPort, model, threads, joinTimeout, config);
    }

    public NodeSettings withGrpcPort(int newPort) {
        return new NodeSettings(roles, host, port, seeds, grpcHost, newPort, model, threads, joinTimeout, config);
    }

    public NodeSettings withThreads(int newThreads) {
        return new NodeSettings(roles, host, port, seeds, grpcHost, grpcPort, model, newThreads, joinTimeout, config);
    }
}
