package dev.tandem.coordinator.api;

import akka.NotUsed;
import akka.stream.javadsl.Source;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * What the Admin gRPC service and {@code tandem ctl} need from a coordinator, as plain Java. Implemented by
 * {@code ClusterInferenceBackend}. Node addresses are Akka address strings ({@code akka://tandem@host:port}):
 * what {@link #status()} prints is what {@link #drain} and {@link RebalanceRequest.Move#node()} accept.
 *
 * <p>Errors: the returned stage or stream fails with {@link AdminException}, whose {@link AdminException.Code}
 * maps one to one onto a gRPC status. A refused change (unknown node or model, a range that is not one, not
 * enough memory, the others lack room, another change under way) changes nothing.
 */
public interface AdminBackend {

    /** Every cluster member with its ranges, memory, load and step latency; drafts (none yet). */
    CompletionStage<ClusterStatus> status();

    /**
     * The placement plans of the served models; with {@code proposed} the plans the balancer would choose now
     * (by the automatic rule), each with its predicted gain and whether {@code rebalance auto} would apply it.
     */
    CompletionStage<List<ModelPlan>> plan(boolean proposed);

    /**
     * Changes the plan live: the new owners load and warm up their layers, the schedulers switch routes at a
     * step boundary (sequences in flight continue, their KV recomputed from their token history on the new
     * route), then the old stages are dropped once the steps in flight on them have drained. The stream emits
     * {@link RebalanceProgress} (loading, warming, switching, draining) and ends with one {@code DONE} when the
     * switch is complete, or fails with {@link AdminException}. Only one change runs at a time.
     */
    Source<RebalanceProgress, NotUsed> rebalance(RebalanceRequest request);

    /**
     * Moves every range off a node (to the other workers with room, idle standbys first), like
     * {@link #rebalance}; with {@code leave}, the node then leaves the cluster gracefully ({@code LEAVING},
     * then {@code DONE}). Refused with FAILED_PRECONDITION when the others lack room, NOT_FOUND for a node
     * that is not a member.
     */
    Source<RebalanceProgress, NotUsed> drain(String nodeAddress, boolean leave);
}
