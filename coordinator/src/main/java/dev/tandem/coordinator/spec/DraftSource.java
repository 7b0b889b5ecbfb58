package dev.tandem.coordinator.spec;

import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.ProposerFactory;

/**
 * Where a coordinator's {@code draft} proposer gets its draft models. The default reads one checkpoint file;
 * a node running online distillation supplies a factory whose drafts are replaced while serving (a sequence
 * keeps the draft it started with; new sequences get the live one).
 */
@FunctionalInterface
public interface DraftSource {

    /**
     * The {@code draft} proposer factory for {@code model}, or null when this node has no draft for it (the
     * {@code draft} proposer then falls back to proposing nothing, and says so in the request's usage).
     * Called once per model on the model's scheduler; the factory is then used from that scheduler only.
     */
    ProposerFactory draftFactory(String model, OpenedModel target, ParallelRunner runner);

    DraftSource NONE = (model, target, runner) -> null;
}
