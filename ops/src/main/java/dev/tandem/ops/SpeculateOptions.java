package dev.tandem.ops;

import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.DraftLengthController;
import dev.tandem.engine.spec.LayerSkipProposer;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.engine.spec.Proposers;
import dev.tandem.engine.spec.SpeculationCosts;
import dev.tandem.engine.spec.SpeculationOptions;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** The speculative decoding flags: which proposer, which draft checkpoint, how far to draft. */
public final class SpeculateOptions {

    @Option(names = "--speculate", paramLabel = "none|ngram|draft|layerskip|auto",
            description = {"Speculative decoding (lossless: the output is what the model alone produces). none: off;",
                    "ngram: prompt lookup; draft: a draft model checkpoint; layerskip: the model's first layers;",
                    "auto: picks per sequence from observed acceptance. Default: none (with --target: the server's default)."})
    String proposer;

    @Option(names = "--draft", paramLabel = "PATH",
            description = "Draft model checkpoint for --speculate draft/auto (default: $TANDEM_HOME/drafts/default.draft if present).")
    Path draft;

    @Option(names = "--draft-length", defaultValue = "" + DraftLengthController.DEFAULT_MAX_DRAFTS,
            description = "Most draft tokens per step (k adapts below it). Default: ${DEFAULT-VALUE}.")
    int maxDrafts;

    @Option(names = "--layerskip-layers", defaultValue = "" + LayerSkipProposer.DEFAULT_LAYERS,
            description = "Layers of the model used as the draft by --speculate layerskip. Default: ${DEFAULT-VALUE}.")
    int layerSkipLayers;

    /** The proposer the request names for a server: "" = the server's default. */
    public String requested() {
        return proposer == null ? "" : name();
    }

    public String name() {
        if (proposer == null) return NoneProposer.NAME;
        String n = proposer.toLowerCase(Locale.ROOT);
        if (!Proposers.NAMES.contains(n)) {
            throw CommandFailure.usage("--speculate must be one of " + String.join(", ", Proposers.NAMES) + ", got '" + proposer + "'");
        }
        return n;
    }

    /** Checks the flags that need no model (usage errors come before any loading). */
    public void validate() {
        name();
        options();
    }

    public boolean enabled() { return !name().equals(NoneProposer.NAME); }

    public SpeculationOptions options() {
        if (maxDrafts < 0 || maxDrafts > 64) throw CommandFailure.usage("--draft-length must be between 0 and 64, got " + maxDrafts);
        return new SpeculationOptions(maxDrafts, true);
    }

    /** The draft model named by --draft, else the default one when it exists, else null. */
    public DraftModel draftModel() {
        if (draft != null) {
            if (!Files.isRegularFile(draft)) throw CommandFailure.failed("draft checkpoint not found: " + draft);
            return DraftCheckpoint.read(draft);
        }
        Path fallback = DraftCheckpoint.defaultPath();
        return Files.isRegularFile(fallback) ? DraftCheckpoint.read(fallback) : null;
    }

    public ProposerFactory factory(ModelWeights target, ParallelRunner runner, SpeculationCosts costs) {
        String n = name();
        int layers = target.config().nLayers();
        if (layerSkipLayers < 1 || layerSkipLayers >= layers) {
            throw CommandFailure.usage("--layerskip-layers must be between 1 and " + (layers - 1) + ", got " + layerSkipLayers);
        }
        DraftModel model = n.equals("draft") || n.equals("auto") ? draftModel() : null;
        if (n.equals("draft") && model == null) {
            throw CommandFailure.usage("--speculate draft needs a draft checkpoint: pass --draft PATH (none at "
                    + DraftCheckpoint.defaultPath() + ")");
        }
        return Proposers.create(n, target, runner, model, layerSkipLayers, costs);
    }
}
