package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import akka.cluster.typed.Cluster;
import dev.tandem.protocol.transport.DirectTransport;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Before any request, the coordinator and each worker have their direct connections open both ways: the first
 * steps (and the first answers of a stage placed on a worker by a failover) do not wait for a discovery.
 */
class WorkerLinksTest {

    @Test
    void coordinatorAndWorkersConnectDirectlyBeforeAnyStep() throws Exception {
        try (TestCluster cluster = new TestCluster("tandem.coordinator.min-workers = 2")) {
            long room = cluster.budgetForLayers(6);
            ActorSystem<Void> first = cluster.addWorker(room, "");
            ActorSystem<Void> second = cluster.addWorker(room, "");
            // A standby that will hold no stage: nothing but the links would ever connect it.
            ActorSystem<Void> standby = cluster.addWorker(room, "");
            cluster.awaitUp(4);
            var coordinator = Cluster.get(cluster.coordinator).selfMember().address();
            for (ActorSystem<Void> worker : new ActorSystem[] {first, second, standby}) {
                var address = Cluster.get(worker).selfMember().address();
                TestCluster.await("worker " + address + " connected to the coordinator",
                        () -> DirectTransport.get(worker).isDirect(coordinator));
                TestCluster.await("the coordinator connected to worker " + address,
                        () -> DirectTransport.get(cluster.coordinator).isDirect(address));
            }
            assertFalse(DirectTransport.get(first).isDirect(Cluster.get(standby).selfMember().address()),
                    "workers connect to one another only when a step goes there");
        }
    }
}
