package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import dev.tandem.trainer.idle.ServingSignals;

import java.util.function.Supplier;

/**
 * Lets something outside a node hold its draft trainer (an extension per ActorSystem, open by default). While
 * closed, the trainer's idle governor sees load, so a step in progress stalls at its next checkpoint and no
 * new one starts, exactly as when requests arrive. Used when several clusters share one machine (the
 * {@code bench osd} references): a node's own activity does not show another cluster's requests.
 */
public final class TrainingGate implements Extension {

    private static final Id ID = new Id();
    /** What the governor sees while the gate is closed: more queued and running work than it ever tolerates. */
    static final ServingSignals HELD = new ServingSignals(Integer.MAX_VALUE, Integer.MAX_VALUE, 0, 0);

    private volatile boolean open = true;

    public static TrainingGate of(ActorSystem<?> system) {
        return ID.apply(system);
    }

    public void open(boolean open) { this.open = open; }

    public boolean isOpen() { return open; }

    /** The node's serving signals while open, {@link #HELD} while closed. */
    Supplier<ServingSignals> signals(Supplier<ServingSignals> serving) {
        return () -> open ? serving.get() : HELD;
    }

    private static final class Id extends ExtensionId<TrainingGate> {
        @Override
        public TrainingGate createExtension(ActorSystem<?> system) {
            return new TrainingGate();
        }
    }
}
