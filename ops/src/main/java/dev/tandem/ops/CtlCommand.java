package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.Assignment;
import dev.tandem.protocol.grpc.DraftInfo;
import dev.tandem.protocol.grpc.DrainRequest;
import dev.tandem.protocol.grpc.LayerRange;
import dev.tandem.protocol.grpc.ListDraftsRequest;
import dev.tandem.protocol.grpc.ListDraftsResponse;
import dev.tandem.protocol.grpc.Move;
import dev.tandem.protocol.grpc.NodeInfo;
import dev.tandem.protocol.grpc.OperationProgress;
import dev.tandem.protocol.grpc.PlanRequest;
import dev.tandem.protocol.grpc.PlanResponse;
import dev.tandem.protocol.grpc.PromoteDraftRequest;
import dev.tandem.protocol.grpc.RebalanceRequest;
import dev.tandem.protocol.grpc.RollbackDraftRequest;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.grpc.StatusResponse;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/** {@code tandem ctl}: the operator commands over a coordinator's Admin gRPC API. */
@Command(name = "ctl", mixinStandardHelpOptions = true,
        description = {"Operate a running cluster through its coordinator's Admin API.",
                "",
                "The admin token comes from --token, else $TANDEM_ADMIN_TOKEN, else $TANDEM_HOME/cluster/admin.token "
                        + "(written by 'tandem cluster up'). The target defaults to the local cluster's coordinator."},
        subcommands = {CtlCommand.Status.class, CtlCommand.Plan.class, CtlCommand.Rebalance.class, CtlCommand.Drain.class,
                CtlCommand.Drafts.class})
public final class CtlCommand implements Runnable {

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CHANGE_TIMEOUT = Duration.ofMinutes(10);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--target", paramLabel = "HOST:PORT", scope = ScopeType.INHERIT,
            description = "The coordinator's gRPC address. Default: the local cluster's ($TANDEM_HOME/cluster/cluster.json).")
    String target;

    @Option(names = "--token", scope = ScopeType.INHERIT, description = "The admin token (else $TANDEM_ADMIN_TOKEN, else the local cluster's).")
    String token;

    @Option(names = "--tls", arity = "0..1", fallbackValue = "", paramLabel = "DIR|CA.pem", scope = ScopeType.INHERIT,
            description = "Connect with TLS trusting this development set's CA (default $TANDEM_HOME/tls) or CA certificate. "
                    + "Default: as the local cluster runs, else plain text.")
    String tls;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print JSON on stdout.")
    boolean json;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    HostAndPort target() {
        if (target != null) {
            try {
                return HostAndPort.parse(target);
            } catch (IllegalArgumentException e) {
                throw CommandFailure.usage("--target: " + e.getMessage());
            }
        }
        return LocalCluster.standard().read().map(LocalCluster.State::grpcTarget).orElseThrow(() -> CommandFailure.usage(
                "no --target given and no local cluster is running (" + LocalCluster.standard().stateFile() + ")"));
    }

    /** TLS as asked, else as the local cluster runs when it is the target; the admin token travels per call. */
    private ClientSecurity clientSecurity() {
        if (tls != null || target != null) return ClientSecurity.of(tls, null).withoutToken();
        return LocalCluster.standard().read().map(s -> s.clientSecurity(null).withoutToken()).orElse(ClientSecurity.PLAIN);
    }

    /** Runs {@code call} with a connected client and maps remote failures to one-line errors. */
    <T> T call(java.util.function.BiFunction<AdminClient, ActorSystem<?>, CompletionStage<T>> call, Duration timeout) {
        HostAndPort where = target();
        String bearer = AdminToken.resolve(token).orElseThrow(() -> CommandFailure.failed(
                "no admin token: pass --token, set " + AdminToken.ENV + ", or run against the local cluster ("
                        + AdminToken.defaultFile() + ")"));
        ActorSystem<Void> system = ClientSystem.create("tandem-ctl");
        AdminClient client = AdminClient.create(ClientSystem.settings(system, where, clientSecurity()), system);
        try {
            return call.apply(client, system)
                    .toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw CommandFailure.failed(where + " did not answer within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CommandFailure.failed("interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            throw RemoteFailures.describe(e, where);
        } finally {
            client.close();
            ClientSystem.terminate(system, Duration.ofSeconds(5));
        }
    }

    static String nodeAddress(String node) {
        String n = node.trim();
        if (n.startsWith("akka://")) return n;
        if (n.matches("[^:/@]+:\\d+")) return "akka://tandem@" + n;
        return n;
    }

    // ---- status

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Nodes (roles, reachability, ranges, memory, load, step latency) and drafts.")
    static final class Status implements Callable<Integer> {
        @ParentCommand CtlCommand ctl;

        @Override
        public Integer call() {
            String bearer = bearer(ctl);
            StatusResponse s = ctl.call((c, sys) -> c.status().addHeader("authorization", bearer).invoke(StatusRequest.getDefaultInstance()), CALL_TIMEOUT);
            if (ctl.json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("nodes", s.getNodesList().stream().map(CtlCommand::nodeJson).toList());
                out.put("drafts", s.getDraftsList().stream().map(CtlCommand::draftJson).toList());
                System.out.println(Json.write(out));
                return 0;
            }
            PrintStream o = System.out;
            o.printf(Locale.ROOT, "%-32s %-20s %-12s %-22s %10s %10s %5s %8s%n", "ADDRESS", "ROLES", "STATE", "RANGES", "MEM-USED", "MEM-FREE", "LOAD", "STEP-MS");
            for (NodeInfo n : s.getNodesList()) {
                o.printf(Locale.ROOT, "%-32s %-20s %-12s %-22s %10s %10s %5d %8.2f%n", n.getAddress(), String.join(",", n.getRolesList()),
                        (n.getReachable() ? "" : "UNREACHABLE/") + n.getStatus(), ranges(n.getRangesList()),
                        mb(n.getMemoryUsedBytes()), mb(n.getMemoryFreeBytes()), n.getActiveSequences(), n.getStepLatencyMs());
            }
            o.println();
            if (s.getDraftsCount() == 0) {
                o.println("drafts: none");
            } else {
                o.printf(Locale.ROOT, "%-20s %8s %10s%n", "CLASS", "VERSION", "ACCEPTANCE");
                for (DraftInfo d : s.getDraftsList()) o.printf(Locale.ROOT, "%-20s %8d %10.3f%n", d.getTrafficClass(), d.getVersion(), d.getAcceptance());
            }
            return 0;
        }
    }

    static Map<String, Object> nodeJson(NodeInfo n) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("address", n.getAddress());
        m.put("roles", n.getRolesList());
        m.put("reachable", n.getReachable());
        m.put("status", n.getStatus());
        m.put("ranges", n.getRangesList().stream().map(CtlCommand::rangeJson).toList());
        m.put("memory_used_bytes", n.getMemoryUsedBytes());
        m.put("memory_free_bytes", n.getMemoryFreeBytes());
        m.put("active_sequences", n.getActiveSequences());
        m.put("step_latency_ms", n.getStepLatencyMs());
        return m;
    }

    static Map<String, Object> rangeJson(LayerRange r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", r.getModel());
        m.put("from", r.getFrom());
        m.put("to", r.getTo());
        return m;
    }

    static Map<String, Object> draftJson(DraftInfo d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("class", d.getTrafficClass());
        m.put("model", d.getModel());
        m.put("version", d.getVersion());
        m.put("state", d.getState());
        m.put("acceptance", d.getAcceptance());
        return m;
    }

    private static String ranges(List<LayerRange> ranges) {
        if (ranges.isEmpty()) return "-";
        List<String> parts = new ArrayList<>();
        for (LayerRange r : ranges) parts.add(r.getModel() + ":" + r.getFrom() + "-" + r.getTo());
        return String.join(",", parts);
    }

    private static String mb(long bytes) {
        return String.format(Locale.ROOT, "%.1fMB", bytes / 1e6);
    }

    private static String bearer(CtlCommand ctl) {
        return "Bearer " + AdminToken.resolve(ctl.token).orElse("");
    }

    // ---- plan

    @Command(name = "plan", mixinStandardHelpOptions = true, description = "The placement plan in force, or with --propose the one the balancer would choose now.")
    static final class Plan implements Callable<Integer> {
        @ParentCommand CtlCommand ctl;

        @Option(names = "--propose", description = "Show the balancer's proposal (changes nothing).")
        boolean propose;

        @Override
        public Integer call() {
            String bearer = bearer(ctl);
            PlanResponse p = ctl.call((c, sys) -> c.plan().addHeader("authorization", bearer)
                    .invoke(PlanRequest.newBuilder().setProposed(propose).build()), CALL_TIMEOUT);
            if (ctl.json) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("proposed", p.getProposed());
                out.put("version", p.getVersion());
                if (propose) {
                    out.put("predicted_gain", p.getPredictedGain());
                    out.put("would_apply", p.getWouldApply());
                }
                out.put("assignments", p.getAssignmentsList().stream().map(a -> {
                    Map<String, Object> m = rangeJson(a.getRange());
                    m.put("node", a.getNode());
                    return m;
                }).toList());
                System.out.println(Json.write(out));
                return 0;
            }
            System.out.println((propose ? "proposed plan" : "plan version " + p.getVersion())
                    + (propose ? String.format(Locale.ROOT, " (predicted gain %.0f%%, %s)", p.getPredictedGain() * 100,
                    p.getWouldApply() ? "rebalance --auto would apply it" : "below the threshold: rebalance --auto would not move") : ""));
            for (Assignment a : p.getAssignmentsList()) {
                System.out.printf(Locale.ROOT, "  %-24s %s%n", a.getRange().getModel() + ":" + a.getRange().getFrom() + "-" + a.getRange().getTo(), a.getNode());
            }
            return 0;
        }
    }

    // ---- rebalance / drain

    @Command(name = "rebalance", mixinStandardHelpOptions = true,
            description = {"Move layer ranges live; a progress bar on stderr until the switch is done.",
                    "FROM is inclusive and TO exclusive, as 'status' prints them."})
    static final class Rebalance implements Callable<Integer> {
        @ParentCommand CtlCommand ctl;

        @Option(names = "--auto", description = "Apply the balancer's automatic rule.")
        boolean auto;

        @Option(names = "--move", paramLabel = "MODEL:FROM-TO", description = "The layer range to move.")
        String move;

        @Option(names = "--to", paramLabel = "NODE", description = "Where --move puts the range (an address as 'status' prints it, or HOST:PORT).")
        String to;

        @Override
        public Integer call() {
            RebalanceRequest.Builder request = RebalanceRequest.newBuilder();
            if (auto == (move != null)) throw CommandFailure.usage("give either --auto or --move MODEL:FROM-TO --to NODE");
            if (auto) {
                request.setAutomatic(true);
            } else {
                if (to == null) throw CommandFailure.usage("--move needs --to NODE");
                dev.tandem.coordinator.api.RebalanceRequest.Move m;
                try {
                    m = dev.tandem.coordinator.api.RebalanceRequest.parseMove(move, nodeAddress(to));
                } catch (AdminException e) {
                    throw CommandFailure.usage(e.getMessage());
                }
                request.setMove(Move.newBuilder().setToNode(m.node())
                        .setRange(LayerRange.newBuilder().setModel(m.model()).setFrom(m.from()).setTo(m.to())));
            }
            String bearer = bearer(ctl);
            return follow(ctl, "rebalance", (c, sys) -> c.rebalance().addHeader("authorization", bearer).invoke(request.build()));
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true, description = "Move every range off a node; with --leave it then leaves the cluster.")
    static final class Drain implements Callable<Integer> {
        @ParentCommand CtlCommand ctl;

        @Parameters(paramLabel = "NODE", description = "The node (an address as 'status' prints it, or HOST:PORT).")
        String node;

        @Option(names = "--leave", description = "The node leaves the cluster once drained.")
        boolean leave;

        @Override
        public Integer call() {
            String bearer = bearer(ctl);
            DrainRequest request = DrainRequest.newBuilder().setNode(nodeAddress(node)).setLeave(leave).build();
            return follow(ctl, "drain", (c, sys) -> c.drain().addHeader("authorization", bearer).invoke(request));
        }
    }

    private static int follow(CtlCommand ctl, String what,
                              java.util.function.BiFunction<AdminClient, ActorSystem<?>, akka.stream.javadsl.Source<OperationProgress, akka.NotUsed>> call) {
        Bar bar = new Bar(System.err, what);
        List<OperationProgress> events = ctl.call((c, sys) -> call.apply(c, sys)
                .map(p -> {
                    bar.update(p);
                    return p;
                })
                .runWith(Sink.seq(), sys), CHANGE_TIMEOUT);
        bar.finish();
        OperationProgress last = events.isEmpty() ? OperationProgress.getDefaultInstance() : events.getLast();
        if (ctl.json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("phase", last.getPhase().name());
            out.put("message", last.getMessage());
            System.out.println(Json.write(out));
        } else {
            System.out.println("tandem: " + what + " done" + (last.getMessage().isEmpty() ? "" : ": " + last.getMessage()));
        }
        return 0;
    }

    /** A progress bar on stderr (redrawn on a terminal, a line per phase otherwise). */
    static final class Bar {
        private static final int WIDTH = 30;
        private final PrintStream out;
        private final String label;
        private final boolean interactive = System.console() != null;
        private OperationProgress.Phase lastPhase;
        private boolean drawn;

        Bar(PrintStream out, String label) {
            this.out = out;
            this.label = label;
        }

        synchronized void update(OperationProgress p) {
            int percent = (int) Math.round(Math.max(0, Math.min(1, p.getFraction())) * 100);
            String phase = p.getPhase().name().replace("PHASE_", "").toLowerCase(Locale.ROOT);
            int filled = percent * WIDTH / 100;
            String line = String.format(Locale.ROOT, "%s [%s%s] %3d%% %-9s %s", label, "#".repeat(filled), " ".repeat(WIDTH - filled),
                    percent, phase, p.getMessage());
            if (interactive) {
                out.print("\r" + line + "\u001b[K");
                drawn = true;
            } else if (p.getPhase() != lastPhase) {
                out.println(line);
            }
            lastPhase = p.getPhase();
            out.flush();
        }

        synchronized void finish() {
            if (drawn) out.println();
        }
    }

    // ---- drafts

    @Command(name = "drafts", mixinStandardHelpOptions = true, description = "Draft models per traffic class: list, promote, rollback.",
            subcommands = {Drafts.ListDrafts.class, Drafts.Promote.class, Drafts.Rollback.class})
    static final class Drafts implements Runnable {
        @ParentCommand CtlCommand ctl;
        @CommandLine.Spec CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(System.err);
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "Drafts with their version, state and acceptance.")
        static final class ListDrafts implements Callable<Integer> {
            @ParentCommand Drafts drafts;
            @Option(names = "--model", defaultValue = "", description = "Only this model's drafts.") String model;

            @Override
            public Integer call() {
                CtlCommand ctl = drafts.ctl;
                String bearer = bearer(ctl);
                ListDraftsResponse r = ctl.call((c, sys) -> c.listDrafts().addHeader("authorization", bearer)
                        .invoke(ListDraftsRequest.newBuilder().setModel(model).build()), CALL_TIMEOUT);
                if (ctl.json) {
                    System.out.println(Json.write(Map.of("drafts", r.getDraftsList().stream().map(CtlCommand::draftJson).toList())));
                    return 0;
                }
                System.out.printf(Locale.ROOT, "%-20s %-16s %8s %-12s %10s%n", "CLASS", "MODEL", "VERSION", "STATE", "ACCEPTANCE");
                for (DraftInfo d : r.getDraftsList()) {
                    System.out.printf(Locale.ROOT, "%-20s %-16s %8d %-12s %10.3f%n", d.getTrafficClass(), d.getModel(), d.getVersion(),
                            d.getState(), d.getAcceptance());
                }
                return 0;
            }
        }

        @Command(name = "promote", mixinStandardHelpOptions = true, description = "Make a candidate draft version live for its class.")
        static final class Promote implements Callable<Integer> {
            @ParentCommand Drafts drafts;
            @Parameters(index = "0", paramLabel = "CLASS") String trafficClass;
            @Parameters(index = "1", paramLabel = "VERSION") long version;
            @Option(names = "--model", defaultValue = "", description = "The target model (default: the default model).") String model;

            @Override
            public Integer call() {
                CtlCommand ctl = drafts.ctl;
                String bearer = bearer(ctl);
                DraftInfo d = ctl.call((c, sys) -> c.promoteDraft().addHeader("authorization", bearer).invoke(PromoteDraftRequest.newBuilder()
                        .setModel(model).setTrafficClass(trafficClass).setVersion(version).build()), CALL_TIMEOUT);
                System.out.println("tandem: draft " + d.getTrafficClass() + " v" + d.getVersion() + " is " + d.getState());
                return 0;
            }
        }

        @Command(name = "rollback", mixinStandardHelpOptions = true, description = "Put the previous live draft version of a class back.")
        static final class Rollback implements Callable<Integer> {
            @ParentCommand Drafts drafts;
            @Parameters(index = "0", paramLabel = "CLASS") String trafficClass;
            @Option(names = "--model", defaultValue = "", description = "The target model (default: the default model).") String model;

            @Override
            public Integer call() {
                CtlCommand ctl = drafts.ctl;
                String bearer = bearer(ctl);
                DraftInfo d = ctl.call((c, sys) -> c.rollbackDraft().addHeader("authorization", bearer).invoke(RollbackDraftRequest.newBuilder()
                        .setModel(model).setTrafficClass(trafficClass).build()), CALL_TIMEOUT);
                System.out.println("tandem: draft " + d.getTrafficClass() + " is back at v" + d.getVersion());
                return 0;
            }
        }
    }
}
