package dev.tandem.cluster;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.typed.Cluster;
import akka.grpc.GrpcServiceException;
import akka.stream.javadsl.Source;
import dev.tandem.coordinator.api.AdminBackend;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.ClusterStatus;
import dev.tandem.coordinator.api.DraftAdmin;
import dev.tandem.coordinator.api.ModelPlan;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.protocol.grpc.Admin;
import dev.tandem.protocol.grpc.Assignment;
import dev.tandem.protocol.grpc.DraftInfo;
import dev.tandem.protocol.grpc.DrainRequest;
import dev.tandem.protocol.grpc.LayerRange;
import dev.tandem.protocol.grpc.ListDraftsRequest;
import dev.tandem.protocol.grpc.ListDraftsResponse;
import dev.tandem.protocol.grpc.NodeInfo;
import dev.tandem.protocol.grpc.OperationProgress;
import dev.tandem.protocol.grpc.PlanRequest;
import dev.tandem.protocol.grpc.PlanResponse;
import dev.tandem.protocol.grpc.PromoteDraftRequest;
import dev.tandem.protocol.grpc.RebalanceRequest;
import dev.tandem.protocol.grpc.RollbackDraftRequest;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.grpc.StatusResponse;
import dev.tandem.worker.StageActor;
import dev.tandem.worker.WorkerNode;
import io.grpc.Status;

import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/**
 * The operator API over the coordinator's {@link AdminBackend}: status, plan, rebalance and drain (streaming
 * progress), and draft management over the node's {@link DraftAdmin} (list, promote, rollback; the live
 * drafts also fill the status's drafts table). {@link AdminException}s become gRPC statuses of the same code
 * with their messages. Without a draft registry (online distillation off) draft calls answer FAILED_PRECONDITION. The token check happens in front of
 * this service ({@link AdminAuth}).
 */
public final class AdminService implements Admin {

    static final String NO_DRAFT_REGISTRY = "no draft registry on this cluster yet";
    /** How long the KV asks to workers may take. */
    private static final java.time.Duration ASK_TIMEOUT = java.time.Duration.ofSeconds(5);

    private final ActorSystem<?> system;
    private final AdminBackend backend;
    private final Optional<DraftAdmin> drafts;

    public AdminService(ActorSystem<?> system, AdminBackend backend) {
        this(system, backend, Optional.empty());
    }

    /** @param drafts the draft registry's admin side (empty: draft calls answer FAILED_PRECONDITION) */
    public AdminService(ActorSystem<?> system, AdminBackend backend, Optional<DraftAdmin> drafts) {
        this.system = system;
        this.backend = backend;
        this.drafts = drafts;
    }

    @Override
    public CompletionStage<StatusResponse> status(StatusRequest in) {
        return mapped(() -> backend.status().thenCombine(kvBytesByWorker(), this::statusOf).thenCombine(liveDrafts(), (status, live) -> {
            if (live.isEmpty()) return status;
            StatusResponse.Builder b = status.toBuilder().clearDrafts();
            live.forEach(b::addDrafts);
            return b.build();
        }));
    }

    /** The live draft of every class, from the draft registry (empty without one, or when it does not answer). */
    private CompletionStage<List<DraftInfo>> liveDrafts() {
        if (drafts.isEmpty()) return CompletableFuture.completedFuture(List.of());
        return drafts.get().list("").thenApply(entries -> entries.stream().filter(e -> e.state().equals("live"))
                        .map(AdminService::draftInfo).toList())
                .exceptionally(failure -> List.of());
    }

    static DraftInfo draftInfo(DraftAdmin.DraftEntry e) {
        return DraftInfo.newBuilder().setTrafficClass(e.trafficClass()).setModel(e.model()).setVersion(e.version()).setState(e.state())
                .setAcceptance(e.acceptance()).setProposed(e.proposed()).setTrainingSteps(e.trainingSteps())
                .setCreatedAtMs(e.createdMillis()).build();
    }

    /** KV cache bytes per worker address, asked from each WorkerNode (workers that do not answer count 0). */
    private CompletionStage<Map<String, Long>> kvBytesByWorker() {
        CompletionStage<Receptionist.Listing> listing = AskPattern.ask(system.receptionist(),
                replyTo -> Receptionist.find(WorkerNode.SERVICE_KEY, replyTo), ASK_TIMEOUT, system.scheduler());
        return listing.thenCompose(l -> {
            List<CompletableFuture<WorkerNode.WorkerDescription>> asks = l.getServiceInstances(WorkerNode.SERVICE_KEY).stream()
                    .map(worker -> AskPattern.<WorkerNode.Command, WorkerNode.WorkerDescription>ask(worker,
                                    WorkerNode.Describe::new, ASK_TIMEOUT, system.scheduler())
                            .toCompletableFuture()
                            .exceptionally(failure -> null))
                    .toList();
            return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(done -> {
                Map<String, Long> out = new HashMap<>();
                for (CompletableFuture<WorkerNode.WorkerDescription> a : asks) {
                    WorkerNode.WorkerDescription w = a.join();
                    if (w != null) out.put(w.address(), w.stages().stream().mapToLong(StageActor.StageStatus::kvBytesUsed).sum());
                }
                return out;
            });
        }).exceptionally(failure -> Map.of());
    }

    private StatusResponse statusOf(ClusterStatus status, Map<String, Long> kvBytes) {
        StatusResponse.Builder out = StatusResponse.newBuilder();
        try {
            Cluster cluster = Cluster.get(system);
            out.setSelfAddress(cluster.selfMember().address().toString());
            var leader = cluster.state().getLeader();
            if (leader != null) out.setLeaderAddress(leader.toString());
        } catch (RuntimeException notAClusterNode) {
            out.setSelfAddress(system.address().toString());
        }
        for (ClusterStatus.NodeStatus n : status.nodes()) {
            NodeInfo.Builder node = NodeInfo.newBuilder()
                    .setAddress(n.address())
                    .addAllRoles(n.roles())
                    .setReachable(n.reachable())
                    .setStatus(n.memberStatus().toLowerCase(Locale.ROOT).replace("weaklyup", "weakly-up"))
                    .setMemoryUsedBytes(n.memoryUsedBytes())
                    .setMemoryFreeBytes(n.memoryFreeBytes())
                    .setActiveSequences(n.activeSequences())
                    .setStepLatencyMs(n.stepLatencyMs())
                    .setKvCacheBytes(kvBytes.getOrDefault(n.address(), 0L));
            for (dev.tandem.coordinator.api.LayerRange r : n.ranges()) node.addRanges(range(r.model(), r.from(), r.to()));
            out.addNodes(node);
        }
        for (ClusterStatus.DraftStatus d : status.drafts()) {
            out.addDrafts(DraftInfo.newBuilder().setTrafficClass(d.trafficClass()).setVersion(d.version())
                    .setState("live").setAcceptance(d.liveAcceptance()));
        }
        return out.build();
    }

    @Override
    public CompletionStage<PlanResponse> plan(PlanRequest in) {
        return mapped(() -> backend.plan(in.getProposed()).thenApply(plans -> {
            PlanResponse.Builder out = PlanResponse.newBuilder().setProposed(in.getProposed());
            long version = 0;
            double gain = 0;
            boolean apply = false;
            for (ModelPlan plan : plans.stream().sorted(Comparator.comparing(ModelPlan::model)).toList()) {
                version = Math.max(version, plan.version());
                gain = Math.max(gain, plan.predictedGain());
                apply |= plan.wouldApply();
                for (ModelPlan.Stage s : plan.stages().stream().sorted(Comparator.comparingInt(ModelPlan.Stage::from)).toList()) {
                    out.addAssignments(Assignment.newBuilder().setRange(range(plan.model(), s.from(), s.to())).setNode(s.node()));
                }
            }
            return out.setVersion(version).setPredictedGain(gain).setWouldApply(apply).build();
        }));
    }

    @Override
    public Source<OperationProgress, NotUsed> rebalance(RebalanceRequest in) {
        if (in.getDryRun()) {
            return Source.failed(status(Status.Code.INVALID_ARGUMENT, "dry_run is not supported; ask Plan with proposed=true"));
        }
        dev.tandem.coordinator.api.RebalanceRequest request = switch (in.getActionCase()) {
            case AUTOMATIC -> new dev.tandem.coordinator.api.RebalanceRequest.Auto();
            case MOVE -> new dev.tandem.coordinator.api.RebalanceRequest.Move(in.getMove().getRange().getModel(),
                    in.getMove().getRange().getFrom(), in.getMove().getRange().getTo(), in.getMove().getToNode());
            case ACTION_NOT_SET -> null;
        };
        if (request == null) return Source.failed(status(Status.Code.INVALID_ARGUMENT, "a rebalance is either automatic or a move"));
        return progress(() -> backend.rebalance(request));
    }

    @Override
    public Source<OperationProgress, NotUsed> drain(DrainRequest in) {
        if (in.getNode().isBlank()) return Source.failed(status(Status.Code.INVALID_ARGUMENT, "the node to drain is missing"));
        return progress(() -> backend.drain(in.getNode(), in.getLeave()));
    }

    @Override
    public CompletionStage<ListDraftsResponse> listDrafts(ListDraftsRequest in) {
        if (drafts.isEmpty()) return CompletableFuture.failedFuture(status(Status.Code.FAILED_PRECONDITION, NO_DRAFT_REGISTRY));
        return mapped(() -> drafts.get().list(in.getModel()).thenApply(entries -> ListDraftsResponse.newBuilder()
                .addAllDrafts(entries.stream().map(AdminService::draftInfo).toList()).build()));
    }

    @Override
    public CompletionStage<DraftInfo> promoteDraft(PromoteDraftRequest in) {
        if (drafts.isEmpty()) return CompletableFuture.failedFuture(status(Status.Code.FAILED_PRECONDITION, NO_DRAFT_REGISTRY));
        return mapped(() -> drafts.get().promote(in.getModel(), in.getTrafficClass(), in.getVersion()).thenApply(AdminService::draftInfo));
    }

    @Override
    public CompletionStage<DraftInfo> rollbackDraft(RollbackDraftRequest in) {
        if (drafts.isEmpty()) return CompletableFuture.failedFuture(status(Status.Code.FAILED_PRECONDITION, NO_DRAFT_REGISTRY));
        return mapped(() -> drafts.get().rollback(in.getModel(), in.getTrafficClass()).thenApply(AdminService::draftInfo));
    }

    private Source<OperationProgress, NotUsed> progress(java.util.function.Supplier<Source<RebalanceProgress, NotUsed>> call) {
        String id = UUID.randomUUID().toString().substring(0, 8);
        Source<RebalanceProgress, NotUsed> source;
        try {
            source = call.get();
        } catch (RuntimeException e) {
            return Source.failed(toGrpc(e));
        }
        return source.map(p -> OperationProgress.newBuilder()
                        .setPhase(phase(p.phase()))
                        .setOperationId(id)
                        .setMessage(p.message() == null ? "" : p.message())
                        .setFraction(p.fraction())
                        .build())
                .mapError(new akka.japi.pf.PFBuilder<Throwable, Throwable>().matchAny(AdminService::toGrpc).build());
    }

    private static OperationProgress.Phase phase(RebalanceProgress.Phase phase) {
        return switch (phase) {
            case LOADING -> OperationProgress.Phase.PHASE_LOADING;
            case WARMING -> OperationProgress.Phase.PHASE_WARMING;
            case SWITCHING -> OperationProgress.Phase.PHASE_SWITCHING;
            case DRAINING -> OperationProgress.Phase.PHASE_RELEASING;
            case LEAVING -> OperationProgress.Phase.PHASE_LEAVING;
            case DONE -> OperationProgress.Phase.PHASE_DONE;
        };
    }

    private static LayerRange range(String model, int from, int to) {
        return LayerRange.newBuilder().setModel(model).setFrom(from).setTo(to).build();
    }

    private static <T> CompletionStage<T> mapped(java.util.function.Supplier<CompletionStage<T>> call) {
        try {
            return call.get().exceptionallyCompose(failure -> CompletableFuture.failedFuture(toGrpc(failure)));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(toGrpc(e));
        }
    }

    /** The gRPC status of a failure: an {@link AdminException} keeps its code and message. */
    static Throwable toGrpc(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
        if (t instanceof GrpcServiceException) return t;
        if (t instanceof AdminException a) return status(Status.Code.valueOf(a.code().name()), a.getMessage());
        return t; // GatewayErrors turns anything else into INTERNAL with a correlation id
    }

    private static GrpcServiceException status(Status.Code code, String message) {
        return new GrpcServiceException(Status.fromCode(code).withDescription(message));
    }
}
