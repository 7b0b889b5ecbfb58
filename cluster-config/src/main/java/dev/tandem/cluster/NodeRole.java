package dev.tandem.cluster;

import java.util.Locale;

/** The Akka Cluster roles a Tandem node can have (a node may have both). */
public enum NodeRole {
    /** Placement, scheduling and the public gRPC gateway. */
    COORDINATOR,
    /** Holds layer ranges of models and runs them. */
    WORKER;

    /** The role name as Akka Cluster and the command line spell it. */
    public String roleName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static NodeRole parse(String name) {
        for (NodeRole r : values()) {
            if (r.roleName().equals(name.trim().toLowerCase(Locale.ROOT))) return r;
        }
        throw new IllegalArgumentException("unknown role \"" + name + "\": roles are coordinator and worker");
    }
}
