package dev.tandem.coordinator.placement;

import dev.tandem.protocol.KryoMessage;

/** What the placement singleton reports to the requester of a {@link PlanChange}: progress, then one end. */
public sealed interface ChangeProgress extends KryoMessage {

    /** @param phase a {@link dev.tandem.coordinator.api.RebalanceProgress.Phase} name */
    record Progress(String phase, String message, double fraction) implements ChangeProgress {}

    /** The change is done (the last {@link Progress} was DONE). */
    record Completed(String message) implements ChangeProgress {}

    /** @param code an {@link dev.tandem.coordinator.api.AdminException.Code} name; nothing was changed */
    record Refused(String code, String message) implements ChangeProgress {}
}
