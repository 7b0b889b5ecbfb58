package dev.tandem.coordinator.api;

import java.util.List;

/** What {@code tandem ctl status} shows: the nodes, and the draft models (empty until speculation ships). */
public record ClusterStatus(List<NodeStatus> nodes, List<DraftStatus> drafts) {

    public ClusterStatus {
        nodes = List.copyOf(nodes);
        drafts = List.copyOf(drafts);
    }

    /**
     * One cluster member.
     *
     * @param address         Akka address, as {@code drain} and {@code rebalance --to} take it
     * @param roles           cluster roles (e.g. coordinator, worker)
     * @param reachable       false while the failure detector considers it unreachable
     * @param memberStatus    Akka member status: Joining, Up, Leaving, Exiting, Down, ...
     * @param ranges          the layer ranges its worker runs (empty for coordinators and standbys)
     * @param memoryUsedBytes weights plus KV in use on its worker (0 when it runs no worker)
     * @param memoryFreeBytes what its worker's budget has left
     * @param activeSequences sequences with KV on its stages (its load)
     * @param stepLatencyMs   the slowest of its stages' average forward time per step (0 when idle)
     */
    public record NodeStatus(String address, List<String> roles, boolean reachable, String memberStatus,
                             List<LayerRange> ranges, long memoryUsedBytes, long memoryFreeBytes,
                             int activeSequences, double stepLatencyMs) {
        public NodeStatus {
            roles = List.copyOf(roles);
            ranges = List.copyOf(ranges);
        }
    }

    /** A draft model of a traffic class (placeholder until online speculation publishes drafts). */
    public record DraftStatus(String trafficClass, long version, double liveAcceptance) {}
}
