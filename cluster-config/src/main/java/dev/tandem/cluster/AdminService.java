package dev.tandem.cluster;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.typed.Cluster;
import akka.grpc.GrpcServiceException;
import akka.stream.javadsl.Source;
import dev.tandem.protocol.grpc.Admin;
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

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The operator API as far as it exists: {@code Status} reports every cluster member with its roles,
 * reachability and membership status, and for workers the ranges they run, their free memory, KV
 * cache bytes and live sequences (asked from each {@link WorkerNode} found through the receptionist).
 * {@code memory_used_bytes} stays 0: a worker reports its free memory, not its budget. The other
 * operations answer UNIMPLEMENTED until placement exposes them.
 */
public final class AdminService implements Admin {

    private final ActorSystem<?> system;
    private final Duration askTimeout;

    public AdminService(ActorSystem<?> system, Duration askTimeout) {
        this.system = system;
        this.askTimeout = askTimeout;
    }

    @Override
    public CompletionStage<StatusResponse> status(StatusRequest in) {
        CompletionStage<Receptionist.Listing> listing = AskPattern.ask(system.receptionist(),
                replyTo -> Receptionist.find(WorkerNode.SERVICE_KEY, replyTo), askTimeout, system.scheduler());
        return listing.thenCompose(l -> {
            List<CompletableFuture<WorkerNode.WorkerDescription>> asks = l.getServiceInstances(WorkerNode.SERVICE_KEY).stream()
                    .map(worker -> AskPattern.<WorkerNode.Command, WorkerNode.WorkerDescription>ask(worker,
                            WorkerNode.Describe::new, askTimeout, system.scheduler())
                            .toCompletableFuture()
                            .exceptionally(failure -> null)) // an unresponsive worker is reported without details
                    .toList();
            return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
                    .thenApply(done -> statusOf(asks.stream().map(CompletableFuture::join).filter(d -> d != null).toList()));
        });
    }

    private StatusResponse statusOf(List<WorkerNode.WorkerDescription> workers) {
        Map<String, WorkerNode.WorkerDescription> byAddress = new HashMap<>();
        for (WorkerNode.WorkerDescription w : workers) byAddress.put(w.address(), w);
        Cluster cluster = Cluster.get(system);
        ClusterEvent.CurrentClusterState state = cluster.state();
        Set<Member> unreachable = state.getUnreachable();
        StatusResponse.Builder out = StatusResponse.newBuilder()
                .setSelfAddress(cluster.selfMember().address().toString());
        if (state.getLeader() != null) out.setLeaderAddress(state.getLeader().toString());
        for (Member m : state.getMembers()) {
            NodeInfo.Builder node = NodeInfo.newBuilder()
                    .setAddress(m.address().toString())
                    .addAllRoles(m.getRoles().stream().filter(r -> !r.startsWith("dc-")).sorted().toList())
                    .setReachable(!unreachable.contains(m))
                    .setStatus(m.status().toString().toLowerCase(Locale.ROOT).replace("weaklyup", "weakly-up"));
            WorkerNode.WorkerDescription w = byAddress.get(m.address().toString());
            if (w != null) {
                long kv = 0;
                int sequences = 0;
                for (StageActor.StageStatus s : w.stages()) {
                    kv += s.kvBytesUsed();
                    sequences += s.sequences();
                    node.addRanges(LayerRange.newBuilder().setModel(s.model()).setFrom(s.fromLayer()).setTo(s.toLayer()));
                }
                node.setMemoryFreeBytes(w.freeMemoryBytes()).setKvCacheBytes(kv).setActiveSequences(sequences);
            }
            out.addNodes(node);
        }
        return out.build();
    }

    @Override
    public CompletionStage<PlanResponse> plan(PlanRequest in) {
        return CompletableFuture.failedFuture(unimplemented("Plan"));
    }

    @Override
    public Source<OperationProgress, NotUsed> rebalance(RebalanceRequest in) {
        return Source.failed(unimplemented("Rebalance"));
    }

    @Override
    public Source<OperationProgress, NotUsed> drain(DrainRequest in) {
        return Source.failed(unimplemented("Drain"));
    }

    @Override
    public CompletionStage<ListDraftsResponse> listDrafts(ListDraftsRequest in) {
        return CompletableFuture.failedFuture(unimplemented("ListDrafts"));
    }

    @Override
    public CompletionStage<DraftInfo> promoteDraft(PromoteDraftRequest in) {
        return CompletableFuture.failedFuture(unimplemented("PromoteDraft"));
    }

    @Override
    public CompletionStage<DraftInfo> rollbackDraft(RollbackDraftRequest in) {
        return CompletableFuture.failedFuture(unimplemented("RollbackDraft"));
    }

    private static GrpcServiceException unimplemented(String operation) {
        return new GrpcServiceException(Status.UNIMPLEMENTED.withDescription(operation + " is not available in this version"));
    }
}
