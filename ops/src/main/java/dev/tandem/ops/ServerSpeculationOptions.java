package dev.tandem.ops;

import dev.tandem.engine.spec.Proposers;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Speculative decoding of a serving node (coordinator): the proposer of requests that name none, the draft
 * checkpoint and the longest draft. A request may still choose its own proposer (GenerateRequest.speculate).
 */
public final class ServerSpeculationOptions {

    static final String PATH = "tandem.coordinator.speculation.";

    @Option(names = "--speculate", paramLabel = "none|ngram|draft|layerskip|auto",
            description = {"Proposer of requests that name none (lossless: clients get what the model alone produces).",
                    "Default: from the configuration (none)."})
    String proposer;

    @Option(names = "--draft", paramLabel = "PATH",
            description = "Draft checkpoint of the draft proposer (default: $TANDEM_HOME/drafts/default.draft if present).")
    Path draft;

    @Option(names = "--draft-length", paramLabel = "K", description = "Most draft tokens per step (k adapts below it). Default: 8.")
    Integer maxDrafts;

    /** Configuration overrides for a coordinator (empty when no flag was given); usage errors as sentences. */
    Map<String, Object> overrides() {
        Map<String, Object> o = new LinkedHashMap<>();
        if (proposer != null) {
            String n = proposer.toLowerCase(Locale.ROOT);
            if (!Proposers.NAMES.contains(n)) {
                throw CommandFailure.usage("--speculate must be one of " + String.join(", ", Proposers.NAMES) + ", got '" + proposer + "'");
            }
            o.put(PATH + "default-proposer", n);
        }
        if (draft != null) {
            if (!Files.isRegularFile(draft)) throw CommandFailure.usage("--draft: no draft checkpoint at " + draft);
            o.put(PATH + "draft-checkpoint", draft.toAbsolutePath().toString());
        }
        if (maxDrafts != null) {
            if (maxDrafts < 0 || maxDrafts > 64) throw CommandFailure.usage("--draft-length must be between 0 and 64, got " + maxDrafts);
            o.put(PATH + "max-drafts", maxDrafts);
        }
        return o;
    }
}
