package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;

/**
 * Told when a class's live draft changes (published or rolled back). In process, a
 * {@link SwappableDraft} swaps it in; the cluster's hook ships the weights to coordinators, which swap it
 * between two steps. Called on the trainer's thread; must not block for long.
 */
@FunctionalInterface
public interface DraftPublisher {
    void live(String trafficClass, DraftModel draft);

    DraftPublisher NONE = (c, d) -> {};
}
