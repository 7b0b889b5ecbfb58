package dev.tandem.coordinator.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A live plan change: move a layer range to a node, or apply the balancer's automatic rule. */
public sealed interface RebalanceRequest {

    /**
     * Layers [from, to) of {@code model} go to {@code node}. The range may be a stage's whole range, part of one
     * (the stage is split: the rest stays where it was) or span several (merged on the target).
     */
    record Move(String model, int from, int to, String node) implements RebalanceRequest {}

    /** The plan the balancer proposes, if it raises the slowest stage's throughput by at least the threshold. */
    record Auto() implements RebalanceRequest {}

    Pattern MOVE_SPEC = Pattern.compile("(.+):(\\d+)-(\\d+)");

    /** Parses {@code MODEL:FROM-TO} (FROM inclusive, TO exclusive) as {@code ctl rebalance --move} takes it. */
    static Move parseMove(String spec, String node) {
        Matcher m = MOVE_SPEC.matcher(spec == null ? "" : spec.trim());
        if (!m.matches()) {
            throw new AdminException(AdminException.Code.INVALID_ARGUMENT,
                    "a move is MODEL:FROM-TO (FROM inclusive, TO exclusive, e.g. stories15M:3-6), got '" + spec + "'");
        }
        try {
            return new Move(m.group(1), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), node);
        } catch (NumberFormatException e) {
            throw new AdminException(AdminException.Code.INVALID_ARGUMENT, "layer numbers out of range in '" + spec + "'");
        }
    }
}
