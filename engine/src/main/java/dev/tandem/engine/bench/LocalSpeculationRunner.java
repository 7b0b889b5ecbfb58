package dev.tandem.engine.bench;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.LayerSkipProposer;
import dev.tandem.engine.spec.Proposers;
import dev.tandem.engine.spec.SpeculationCosts;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Runs benchmark requests in this process with a {@link SpeculativeGenerator}, all streams batched per step. */
public final class LocalSpeculationRunner implements SpeculationRunner {

    private final ModelWeights weights;
    private final Tokenizer tokenizer;
    private final ParallelRunner runner;
    private final DraftModel draft;
    private final int layerSkipLayers;
    private final SpeculationOptions options;
    private final java.util.Map<String, SpeculativeGenerator> generators = new java.util.HashMap<>();

    public LocalSpeculationRunner(ModelWeights weights, Tokenizer tokenizer, int threads, DraftModel draft, int layerSkipLayers,
                                  SpeculationOptions options) {
        this.weights = weights;
        this.tokenizer = tokenizer;
        this.runner = new ParallelRunner(threads);
        this.draft = draft;
        this.layerSkipLayers = layerSkipLayers;
        this.options = options;
    }

    public LocalSpeculationRunner(ModelWeights weights, Tokenizer tokenizer, int threads, DraftModel draft) {
        this(weights, tokenizer, threads, draft, LayerSkipProposer.DEFAULT_LAYERS, SpeculationOptions.defaults());
    }

    @Override
    public String mode() { return "local"; }

    /** One generator per proposer, kept across calls so that measured costs and caches persist as in a server. */
    @Override
    public List<SpeculativeResult> run(String proposer, List<GenerationRequest> requests) {
        SpeculativeGenerator generator = generators.computeIfAbsent(proposer, name -> {
            SpeculationCosts costs = new SpeculationCosts();
            return new SpeculativeGenerator(weights, tokenizer, runner, Proposers.create(name, weights, runner, draft, layerSkipLayers, costs),
                    costs, options);
        });
        List<GenerationListener> listeners = new ArrayList<>(Collections.nCopies(requests.size(), GenerationListener.NONE));
        return generator.generateAll(requests, listeners);
    }

    @Override
    public void close() {
        for (SpeculativeGenerator g : generators.values()) g.close();
        generators.clear();
        runner.close();
    }
}
