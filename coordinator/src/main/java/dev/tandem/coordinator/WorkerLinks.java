package dev.tandem.coordinator;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import dev.tandem.protocol.transport.DirectTransport;
import dev.tandem.worker.WorkerNode;

import java.util.HashSet;
import java.util.Set;

/**
 * Opens the direct-transport connections between this coordinator node and every worker as soon as the worker
 * registers, both ways, rather than on the first step between them. Connections are otherwise made on first use,
 * after a discovery over Artery: on a standby that had never served, the replayed sequences' first answers after a
 * failover waited 0.5-1 s for its connections to the coordinators (a CI run's `MultiJvmFaultsTest`: connected at
 * 10.195 and 10.672 s, recovery logged at 10.209 and 10.676 s, the plan switched at 09.705 s). A worker is listed
 * only after its node actor started, which starts its transport first, and this node's transport is up before this
 * actor, so neither side's discovery can find a transport that is not there yet.
 */
final class WorkerLinks {

    private WorkerLinks() {}

    static Behavior<Receptionist.Listing> create() {
        return Behaviors.setup(context -> {
            context.getSystem().receptionist().tell(Receptionist.subscribe(WorkerNode.SERVICE_KEY, context.getSelf()));
            DirectTransport transport = DirectTransport.get(context.getSystem());
            String self = context.getSystem().address().toString();
            Set<ActorRef<WorkerNode.Command>> linked = new HashSet<>();
            return Behaviors.receiveMessage(listing -> {
                Set<ActorRef<WorkerNode.Command>> workers = listing.getServiceInstances(WorkerNode.SERVICE_KEY);
                for (ActorRef<WorkerNode.Command> worker : workers) {
                    if (!linked.add(worker)) continue;
                    transport.connect(worker.path().address());
                    worker.tell(new WorkerNode.ConnectDirect(self));
                }
                linked.retainAll(workers);
                return Behaviors.same();
            });
        });
    }
}
