package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.cluster.NodeRole;
import dev.tandem.engine.model.TandemHome;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A cluster of separate JVMs on this machine (one coordinator, N workers), each running
 * {@code tandem node}, with its state in {@code cluster.json} and one log file per node under a
 * directory of the Tandem home ({@code $TANDEM_HOME/cluster} for {@code tandem cluster}).
 */
final class LocalCluster {

    static final String STATE_FILE = "cluster.json";
    static final String LOGS_DIR = "logs";
    static final String HOST = "127.0.0.1";
    static final String MIN_WORKERS_KEY = "tandem.coordinator.min-workers";
    /** Lines of a failed node's log shown in the error. */
    private static final int LOG_TAIL_LINES = 12;

    /**
     * One node process.
     *
     * @param startedAt the process's start instant, checked before signalling so that a reused pid is never hit
     */
    record Node(String name, List<String> roles, String address, int port, int grpcPort, long pid, String startedAt,
                String log, int metricsPort) {

        /** The node's Prometheus endpoint, or "" when it has none. */
        String metricsUrl() {
            return metricsPort > 0 ? "http://" + HOST + ":" + metricsPort + "/metrics" : "";
        }

        Optional<ProcessHandle> process() {
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .filter(p -> p.info().startInstant().map(i -> i.toString().equals(startedAt)).orElse(true));
        }

        boolean alive() { return process().isPresent(); }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("roles", roles);
            m.put("address", address);
            m.put("port", port);
            if (grpcPort > 0) m.put("grpc_port", grpcPort);
            m.put("pid", pid);
            m.put("started_at", startedAt);
            m.put("log", log);
            if (metricsPort > 0) m.put("metrics_port", metricsPort);
            return m;
        }

        static Node fromConfig(Config c) {
            return new Node(c.getString("name"), c.getStringList("roles"), c.getString("address"), c.getInt("port"),
                    c.hasPath("grpc_port") ? c.getInt("grpc_port") : 0, c.getLong("pid"), c.getString("started_at"),
                    c.getString("log"), c.hasPath("metrics_port") ? c.getInt("metrics_port") : 0);
        }
    }

    /** What `up` recorded. */
    /** @param tls the development TLS set the nodes use, "" = plain text */
    record State(String grpc, String model, List<Node> nodes, String tls) {

        State(String grpc, String model, List<Node> nodes) {
            this(grpc, model, nodes, "");
        }

        HostAndPort grpcTarget() { return HostAndPort.parse(grpc); }

        /** How a client reaches this cluster (TLS trusting its CA when it runs with TLS). */
        ClientSecurity clientSecurity(String token) {
            return ClientSecurity.of(tls.isEmpty() ? null : tls, token);
        }

        String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("grpc", grpc);
            m.put("model", model);
            if (!tls.isEmpty()) m.put("tls", tls);
            m.put("nodes", nodes.stream().map(Node::toJson).toList());
            return Json.write(m) + "\n";
        }
    }

    /**
     * How to start a cluster.
     *
     * @param threads compute threads per worker, 0 = all processors
     */
    /**
     * @param coordinatorConfig configuration overrides for the coordinator node (e.g. its speculation)
     * @param security          TLS and client tokens of every node
     */
    /**
     * What to start: {@code nodeConfig} is set on every node (e.g. {@code tandem.drafts.train=off}),
     * {@code coordinatorConfig} on the coordinator after it.
     */
    record Spec(int workers, int grpcPort, String model, int threads, Duration readyTimeout, Map<String, Object> coordinatorConfig,
                ServerSecurity security, Map<String, Object> nodeConfig) {
        Spec {
            coordinatorConfig = Map.copyOf(coordinatorConfig);
            nodeConfig = Map.copyOf(nodeConfig);
        }

        Spec(int workers, int grpcPort, String model, int threads, Duration readyTimeout, Map<String, Object> coordinatorConfig,
             ServerSecurity security) {
            this(workers, grpcPort, model, threads, readyTimeout, coordinatorConfig, security, Map.of());
        }

        Spec(int workers, int grpcPort, String model, int threads, Duration readyTimeout, Map<String, Object> coordinatorConfig) {
            this(workers, grpcPort, model, threads, readyTimeout, coordinatorConfig, new ServerSecurity());
        }

        Spec(int workers, int grpcPort, String model, int threads, Duration readyTimeout, ServerSecurity security) {
            this(workers, grpcPort, model, threads, readyTimeout, Map.of(), security);
        }

        Spec(int workers, int grpcPort, String model, int threads, Duration readyTimeout) {
            this(workers, grpcPort, model, threads, readyTimeout, Map.of(), new ServerSecurity());
        }

        /** This spec with {@code settings} added to every node's configuration. */
        Spec withNodeConfig(Map<String, ?> settings) {
            Map<String, Object> merged = new java.util.LinkedHashMap<>(nodeConfig);
            merged.putAll(settings);
            return new Spec(workers, grpcPort, model, threads, readyTimeout, coordinatorConfig, security, merged);
        }
    }

    private final Path dir;

    LocalCluster(Path dir) {
        this.dir = dir;
    }

    /** The cluster of `tandem cluster up|down|status`. */
    static LocalCluster standard() {
        return new LocalCluster(TandemHome.root().resolve("cluster"));
    }

    Path dir() { return dir; }

    Path stateFile() { return dir.resolve(STATE_FILE); }

    Path logsDir() { return dir.resolve(LOGS_DIR); }

    /** The admin token `up` writes and the coordinator requires ({@code tandem ctl} reads it). */
    Path tokenFile() { return dir.resolve(AdminToken.FILE); }

    Optional<State> read() {
        Path file = stateFile();
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            Config c = ConfigFactory.parseFile(file.toFile());
            List<Node> nodes = c.getConfigList("nodes").stream().map(Node::fromConfig).toList();
            return Optional.of(new State(c.getString("grpc"), c.getString("model"), nodes, c.hasPath("tls") ? c.getString("tls") : ""));
        } catch (RuntimeException e) {
            throw CommandFailure.failed(file + " is damaged (" + e.getMessage() + "); stop the node processes by hand and delete it");
        }
    }

    private void write(State state) {
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve(STATE_FILE + ".tmp");
            Files.writeString(tmp, state.toJson(), StandardCharsets.UTF_8);
            Files.move(tmp, stateFile(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + stateFile(), e);
        }
    }

    /**
     * Starts the node processes, records them, and waits until the gRPC endpoint reports SERVING.
     * On failure every started process is stopped again and the error names the log to read.
     */
    State up(Spec spec) throws InterruptedException {
        Optional<State> existing = read();
        if (existing.isPresent() && existing.get().nodes().stream().anyMatch(Node::alive)) {
            throw CommandFailure.failed("a local cluster is already running (gRPC on " + existing.get().grpc()
                    + ", state in " + stateFile() + "); stop it first with 'tandem cluster down'");
        }
        if (!FreePorts.isFree(HOST, spec.grpcPort())) {
            throw CommandFailure.failed("the gRPC port " + HOST + ":" + spec.grpcPort() + " is in use; choose another with --grpc-port");
        }
        try {
            Files.createDirectories(logsDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + logsDir(), e);
        }
        int coordinatorPort = FreePorts.pick(HOST);
        HostAndPort seed = new HostAndPort(HOST, coordinatorPort);
        List<Node> nodes = new ArrayList<>();
        State state = new State(new HostAndPort(HOST, spec.grpcPort()).toString(), spec.model(), nodes,
                spec.security().tlsDir().map(Path::toString).orElse(""));
        ClientSecurity probe = spec.security().probe();
        String token = AdminToken.writeFresh(tokenFile());
        ActorSystem<Void> system = ClientSystem.create("tandem-cluster-up");
        try {
            nodes.add(launch("coordinator", List.of(NodeRole.COORDINATOR), coordinatorPort, seed, spec.grpcPort(), spec));
            write(state);
            // Workers start one after the other: each measures its speed at start-up, and placement
            // splits the layers by speed, so a measurement must not compete with another JVM's start.
            try (AdminProbe admin = new AdminProbe(system, state.grpcTarget(), token, probe)) {
                for (int i = 1; i <= spec.workers(); i++) {
                    nodes.add(launch("worker-" + i, List.of(NodeRole.WORKER), FreePorts.pick(HOST), seed, 0, spec));
                    write(state);
                    if (!admin.awaitDescribedWorkers(i, spec.readyTimeout(), () -> nodes.stream().allMatch(Node::alive))) {
                        throw notReady(state, spec.readyTimeout(), "worker-" + i + " did not register with the coordinator");
                    }
                }
            }
            awaitServing(system, state, spec.readyTimeout(), probe);
            return state;
        } catch (RuntimeException | InterruptedException e) {
            stop(nodes, Duration.ofSeconds(5));
            deleteState();
            throw e;
        } finally {
            ClientSystem.terminate(system, Duration.ofSeconds(5));
        }
    }

    private Node launch(String name, List<NodeRole> roles, int port, HostAndPort seed, int grpcPort, Spec spec) {
        Path log = logsDir().resolve(name + ".log");
        int metricsPort = FreePorts.pick(HOST);
        List<String> args = new ArrayList<>(List.of("node", "--metrics-port", Integer.toString(metricsPort),
                "--roles", String.join(",", roles.stream().map(NodeRole::roleName).toList()),
                "--host", HOST, "--port", Integer.toString(port), "--seeds", seed.toString(),
                "--model", spec.model(), "--threads", Integer.toString(spec.threads()),
                "--log-file", NodeCommand.LOG_TO_STDOUT));
        if (grpcPort > 0) args.addAll(List.of("--grpc-port", Integer.toString(grpcPort)));
        args.addAll(spec.security().nodeArgs());
        spec.nodeConfig().forEach((key, value) -> args.addAll(List.of("-c", key + "=" + value)));
        // Placement waits for every worker before the first plan, so that the layers are split over all of them.
        if (roles.contains(NodeRole.COORDINATOR)) {
            args.addAll(List.of("-c", MIN_WORKERS_KEY + "=" + spec.workers()));
            args.addAll(List.of("--admin-token-file", tokenFile().toString()));
            spec.coordinatorConfig().forEach((key, value) -> args.addAll(List.of("-c", key + "=" + value)));
        }
        ProcessBuilder builder = new ProcessBuilder(JavaCommand.tandem(args))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        try {
            Process process = builder.start();
            process.getOutputStream().close(); // no input: a node never reads stdin
            String started = process.info().startInstant().map(Instant::toString).orElse("");
            return new Node(name, roles.stream().map(NodeRole::roleName).toList(),
                    "akka://tandem@" + new HostAndPort(HOST, port), port, grpcPort, process.pid(), started, log.toString(), metricsPort);
        } catch (IOException e) {
            throw CommandFailure.failed("cannot start the " + name + " JVM (" + e.getMessage() + ")");
        }
    }

    private void awaitServing(ActorSystem<?> system, State state, Duration timeout, ClientSecurity security) throws InterruptedException {
        try (HealthProbe probe = new HealthProbe(system, state.grpcTarget(), security)) {
            if (!probe.awaitServing(timeout, () -> state.nodes().stream().allMatch(Node::alive))) {
                throw notReady(state, timeout, "the cluster did not report SERVING on " + state.grpc());
            }
        }
    }

    /** The error for a start that failed: the log of a node that died, or where to look. */
    private CommandFailure notReady(State state, Duration timeout, String what) {
        Optional<Node> dead = state.nodes().stream().filter(n -> !n.alive()).findFirst();
        if (dead.isPresent()) {
            return CommandFailure.failed("node " + dead.get().name() + " exited during start-up; its log "
                    + dead.get().log() + " ends with:\n" + tail(Path.of(dead.get().log())));
        }
        return CommandFailure.failed(what + " within " + timeout.toSeconds() + " s; see the node logs in " + logsDir());
    }

    /** Stops every recorded node (SIGTERM, then SIGKILL after the grace period) and forgets the cluster. */
    List<String> down(Duration grace) {
        Optional<State> state = read();
        if (state.isEmpty()) return List.of();
        List<String> report = stop(state.get().nodes(), grace);
        deleteState();
        return report;
    }

    private static List<String> stop(List<Node> nodes, Duration grace) {
        List<String> report = new ArrayList<>();
        List<ProcessHandle> signalled = new ArrayList<>();
        for (Node n : nodes) {
            Optional<ProcessHandle> p = n.process();
            if (p.isPresent()) {
                p.get().destroy(); // SIGTERM: CoordinatedShutdown leaves the cluster gracefully
                signalled.add(p.get());
            }
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (Node n : nodes) {
            Optional<ProcessHandle> p = signalled.stream().filter(h -> h.pid() == n.pid()).findFirst();
            if (p.isEmpty()) {
                report.add(n.name() + " (pid " + n.pid() + "): was not running");
                continue;
            }
            long left = Math.max(0, deadline - System.nanoTime());
            try {
                p.get().onExit().get(left, TimeUnit.NANOSECONDS);
                report.add(n.name() + " (pid " + n.pid() + "): stopped");
            } catch (Exception timeoutOrInterrupt) {
                p.get().destroyForcibly();
                report.add(n.name() + " (pid " + n.pid() + "): killed after " + grace.toSeconds() + " s");
            }
        }
        return report;
    }

    private void deleteState() {
        try {
            Files.deleteIfExists(stateFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + stateFile(), e);
        }
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }
}
