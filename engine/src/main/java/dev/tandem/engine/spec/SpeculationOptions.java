package dev.tandem.engine.spec;

/**
 * How far to speculate.
 *
 * @param maxDrafts most draft tokens per sequence and step (kMax)
 * @param adaptive  choose k per step with a {@link DraftLengthController}; false always drafts maxDrafts
 */
public record SpeculationOptions(int maxDrafts, boolean adaptive) {

    public SpeculationOptions {
        if (maxDrafts < 0) throw new IllegalArgumentException("max drafts must be >= 0, got " + maxDrafts);
    }

    public static SpeculationOptions defaults() {
        return new SpeculationOptions(DraftLengthController.DEFAULT_MAX_DRAFTS, true);
    }

    public static SpeculationOptions fixed(int drafts) {
        return new SpeculationOptions(drafts, false);
    }
}
