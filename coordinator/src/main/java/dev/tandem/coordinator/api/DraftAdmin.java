package dev.tandem.coordinator.api;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Draft management for the Admin API and {@code tandem ctl drafts}: the draft versions a coordinator serves,
 * per traffic class. Implemented where the draft registry lives (module {@code cluster-config}); a coordinator
 * without one has no {@code DraftAdmin} and the Admin API refuses draft calls with FAILED_PRECONDITION.
 *
 * <p>Errors: the stage fails with {@link AdminException} (NOT_FOUND for an unknown model, class or version,
 * FAILED_PRECONDITION for a version that cannot be made live, INVALID_ARGUMENT for bad input).
 */
public interface DraftAdmin {

    /**
     * One draft version.
     *
     * @param state         live, retired, rejected or rolled-back
     * @param acceptance    for the live version and any version that served: acceptance on live traffic
     *                      (accepted / proposed draft tokens at this coordinator) when it served some; otherwise
     *                      the greedy acceptance measured on held-out samples when it was evaluated
     * @param proposed      draft tokens the live acceptance was measured over (0 = held-out measurement)
     * @param trainingSteps optimizer steps behind the version, when its note says (0 = unknown)
     */
    record DraftEntry(String model, String trafficClass, long version, String state, double acceptance, long proposed,
                      long trainingSteps, long createdMillis) {}

    /** Every version of every class (of {@code model}; "" = every served model), live ones first per class. */
    CompletionStage<List<DraftEntry>> list(String model);

    /** Makes a kept version of a class live on every node, bypassing evaluation. */
    CompletionStage<DraftEntry> promote(String model, String trafficClass, long version);

    /** Puts the previously live version of a class back on every node. */
    CompletionStage<DraftEntry> rollback(String model, String trafficClass);
}
