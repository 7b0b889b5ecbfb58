package dev.tandem.coordinator;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.stream.BoundedSourceQueue;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.placement.ChangeProgress;

import java.time.Duration;

/**
 * Feeds one admin call's progress stream from the placement singleton's {@link ChangeProgress} messages (which
 * may come from another node): progress becomes {@link RebalanceProgress}, a refusal fails the stream with
 * {@link AdminException}. Without news for {@code idleTimeout} the stream fails UNAVAILABLE (never a hang).
 */
final class ProgressRelay extends AbstractBehavior<ChangeProgress> {

    static Behavior<ChangeProgress> create(BoundedSourceQueue<RebalanceProgress> out, Duration idleTimeout) {
        return Behaviors.setup(context -> {
            context.setReceiveTimeout(idleTimeout, new ChangeProgress.Refused(AdminException.Code.UNAVAILABLE.name(),
                    "no progress from the placement singleton in " + idleTimeout + "; the change may still complete, see status"));
            return new ProgressRelay(context, out);
        });
    }

    private final BoundedSourceQueue<RebalanceProgress> out;

    private ProgressRelay(ActorContext<ChangeProgress> context, BoundedSourceQueue<RebalanceProgress> out) {
        super(context);
        this.out = out;
    }

    @Override
    public Receive<ChangeProgress> createReceive() {
        return newReceiveBuilder()
                .onMessage(ChangeProgress.Progress.class, p -> {
                    out.offer(new RebalanceProgress(RebalanceProgress.Phase.valueOf(p.phase()), p.message(), p.fraction()));
                    return this;
                })
                .onMessage(ChangeProgress.Completed.class, c -> {
                    out.complete();
                    return Behaviors.stopped();
                })
                .onMessage(ChangeProgress.Refused.class, r -> {
                    out.fail(new AdminException(AdminException.Code.valueOf(r.code()), r.message()));
                    return Behaviors.stopped();
                })
                .build();
    }
}
