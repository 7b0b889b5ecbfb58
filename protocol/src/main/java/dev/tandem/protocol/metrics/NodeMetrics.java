package dev.tandem.protocol.metrics;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;

/** The metrics registry of one node (one actor system), shared by everything running on it. */
public final class NodeMetrics implements Extension {

    private static final Id ID = new Id();

    private final MetricsRegistry registry = new MetricsRegistry();

    public static MetricsRegistry of(ActorSystem<?> system) {
        return ID.apply(system).registry;
    }

    public MetricsRegistry registry() { return registry; }

    private static final class Id extends ExtensionId<NodeMetrics> {
        @Override
        public NodeMetrics createExtension(ActorSystem<?> system) {
            return new NodeMetrics();
        }
    }
}
