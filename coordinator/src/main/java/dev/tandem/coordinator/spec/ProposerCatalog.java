package dev.tandem.coordinator.spec;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.AutoProposer;
import dev.tandem.engine.spec.DraftKernelWarmUp;
import dev.tandem.engine.spec.DraftModelProposer;
import dev.tandem.engine.spec.LayerSkipProposer;
import dev.tandem.engine.spec.NgramProposer;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.engine.spec.Proposers;
import dev.tandem.engine.spec.SpeculationCosts;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The proposers one model's scheduler can use, made on first use and shared by its sequences: {@code none},
 * {@code ngram}, {@code layerskip} (the target's first layers, mapped from the coordinator's copy of the
 * model), {@code draft} (from the {@link DraftSource}, else the configured checkpoint) and {@code auto}
 * over the others. Owned by the scheduler and used from its thread only.
 */
public final class ProposerCatalog implements AutoCloseable {

    private final String model;
    private final OpenedModel target;
    private final SpeculationSettings settings;
    private final DraftSource drafts;
    private final SpeculationCosts costs = new SpeculationCosts();
    private final Map<String, ProposerFactory> factories = new HashMap<>();
    private ParallelRunner runner;
    private ProposerFactory draftFactory;
    private boolean draftLooked;
    private boolean warmUpStarted;
    private final DraftWeights draftWeights;

    /** @param draftWeights what a draft from a checkpoint file reads (a draft source makes its own proposers) */
    public ProposerCatalog(String model, OpenedModel target, SpeculationSettings settings, DraftSource drafts,
                           DraftWeights draftWeights) {
        this.model = model;
        this.draftWeights = draftWeights;
        this.target = target;
        this.settings = settings;
        this.drafts = drafts;
        int layers = target.config().nLayers();
        if (settings.layerSkipLayers() >= layers) {
            throw new IllegalArgumentException(SpeculationSettings.PATH + ".layerskip-layers must be below the " + layers
                    + " layers of " + model + ", got " + settings.layerSkipLayers());
        }
        // Now rather than when a request first asks for a model proposer: compiling takes seconds of a background
        // thread, and those first proposals, interpreted and next to the warm-up, cost 0.4-1 ms a token instead of
        // ~0.1 (bench cluster: the draft's kernels were still in the Vector API's fallback code while speculation
        // was measured), so the draft length controller learned to draft little.
        warmUpKernels();
    }

    /** Costs measured by this model's scheduler: pipeline steps by rows, draft tokens by proposer. */
    public SpeculationCosts costs() { return costs; }

    public SpeculationSettings settings() { return settings; }

    /**
     * The proposer a request asked for ("" = the configured default), checked to be usable here.
     *
     * @throws GenerationRejected INVALID_ARGUMENT for an unknown name, FAILED_PRECONDITION for {@code draft}
     *                            without any draft model
     */
    public String resolve(String requested) {
        String name = requested == null || requested.isEmpty() ? settings.defaultProposer() : requested.toLowerCase(Locale.ROOT);
        if (!Proposers.NAMES.contains(name)) {
            throw new GenerationRejected(GenerationRejected.Code.INVALID_ARGUMENT, "speculate must be one of "
                    + String.join(", ", Proposers.NAMES) + ", got '" + requested + "'");
        }
        if (name.equals(DraftModelProposer.NAME) && draft() == null) {
            throw new GenerationRejected(GenerationRejected.Code.FAILED_PRECONDITION, "this coordinator has no draft model for "
                    + model + " (none published and no checkpoint at " + checkpointPath()
                    + "); run `tandem draft bootstrap`, or use ngram, layerskip or auto");
        }
        return name;
    }

    /** A proposer for a new sequence; {@code name} comes from {@link #resolve}. */
    public Proposer open(String name, long seqId, SamplerSettings sampling, int[] prompt, String trafficClass) {
        return factory(name).open(seqId, sampling, prompt, trafficClass);
    }

    private ProposerFactory factory(String name) {
        ProposerFactory f = factories.get(name);
        if (f != null) return f;
        f = switch (name) {
            case NoneProposer.NAME -> NoneProposer.factory();
            case NgramProposer.NAME -> NgramProposer.factory();
            case LayerSkipProposer.NAME -> {
                warmUpKernels();
                yield LayerSkipProposer.factory(target.model().weights(), settings.layerSkipLayers(), runner());
            }
            case DraftModelProposer.NAME -> draft();
            case AutoProposer.NAME -> {
                List<ProposerFactory> candidates = new ArrayList<>();
                candidates.add(factory(NgramProposer.NAME));
                if (draft() != null) candidates.add(draft());
                candidates.add(factory(LayerSkipProposer.NAME));
                yield AutoProposer.factory(candidates, costs);
            }
            default -> throw new IllegalArgumentException("unknown proposer " + name);
        };
        factories.put(name, f);
        return f;
    }

    /** The draft proposer's factory: the draft source's, else one over the checkpoint file; null when neither exists. */
    private ProposerFactory draft() {
        if (draftLooked) return draftFactory;
        draftLooked = true;
        draftFactory = drafts.draftFactory(model, target, runner());
        if (draftFactory == null) {
            Path file = checkpointPath();
            if (Files.isRegularFile(file)) {
                DraftModel draft = DraftCheckpoint.read(file);
                draftFactory = DraftModelProposer.factory(draft, target.config().vocabSize(), target.config().seqLen(), runner(), draftWeights);
            }
        }
        if (draftFactory != null) warmUpKernels();
        return draftFactory;
    }

    /** Once per catalog: compiles the model proposers' kernels off the scheduler's thread (see DraftKernelWarmUp). */
    private void warmUpKernels() {
        if (warmUpStarted || settings.warmUpForwards() == 0) return;
        warmUpStarted = true;
        DraftKernelWarmUp.start(target.config(), settings.threads(), settings.warmUpForwards(), draftWeights,
                "tandem-draft-warm-up-" + model);
    }

    private Path checkpointPath() {
        return settings.draftCheckpoint().isEmpty() ? DraftCheckpoint.defaultPath() : Path.of(settings.draftCheckpoint());
    }

    private ParallelRunner runner() {
        if (runner == null) runner = new ParallelRunner(settings.threads());
        return runner;
    }

    @Override
    public void close() {
        // auto shares the other factories (and draft is also the draft source's): close each once
        factories.remove(AutoProposer.NAME);
        java.util.Set<ProposerFactory> open = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        open.addAll(factories.values());
        if (draftFactory != null) open.add(draftFactory);
        open.forEach(ProposerFactory::close);
        factories.clear();
        if (runner != null) runner.close();
    }
}
