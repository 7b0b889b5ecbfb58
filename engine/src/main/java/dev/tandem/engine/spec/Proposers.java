package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Proposer factories by name: {@code none | ngram | draft | layerskip | auto}. */
public final class Proposers {

    public static final List<String> NAMES = List.of(NoneProposer.NAME, NgramProposer.NAME, DraftModelProposer.NAME,
            LayerSkipProposer.NAME, AutoProposer.NAME);

    private Proposers() {}

    /**
     * @param draft           the draft model for {@code draft} (and as a candidate of {@code auto}); may be null,
     *                        which is an error for {@code draft}
     * @param layerSkipLayers target layers used by {@code layerskip}
     * @param costs           measured costs ({@code auto} weighs candidates by them)
     */
    public static ProposerFactory create(String name, ModelWeights target, ParallelRunner runner, DraftModel draft,
                                         int layerSkipLayers, SpeculationCosts costs) {
        String n = name.toLowerCase(Locale.ROOT);
        return switch (n) {
            case NoneProposer.NAME -> NoneProposer.factory();
            case NgramProposer.NAME -> NgramProposer.factory();
            case LayerSkipProposer.NAME -> LayerSkipProposer.factory(target, layerSkipLayers, runner);
            case DraftModelProposer.NAME -> {
                if (draft == null) throw new IllegalArgumentException("the draft proposer needs a draft model checkpoint");
                yield DraftModelProposer.factory(draft, target.config().vocabSize(), target.config().seqLen(), runner);
            }
            case AutoProposer.NAME -> {
                List<ProposerFactory> candidates = new ArrayList<>();
                candidates.add(NgramProposer.factory());
                if (draft != null) {
                    candidates.add(DraftModelProposer.factory(draft, target.config().vocabSize(), target.config().seqLen(), runner));
                }
                candidates.add(LayerSkipProposer.factory(target, layerSkipLayers, runner));
                yield AutoProposer.factory(candidates, costs);
            }
            default -> throw new IllegalArgumentException("unknown proposer '" + name + "'; expected one of " + String.join(", ", NAMES));
        };
    }
}
