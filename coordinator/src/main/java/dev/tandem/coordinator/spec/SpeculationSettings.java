package dev.tandem.coordinator.spec;

import com.typesafe.config.Config;

import dev.tandem.engine.spec.Proposers;

import java.util.Locale;

/**
 * Typed view of {@code tandem.coordinator.speculation} (defaults in the coordinator's {@code reference.conf}).
 *
 * @param defaultProposer            proposer of requests that name none ({@code none|ngram|draft|layerskip|auto})
 * @param maxDrafts                  most draft tokens per sequence and step (k adapts below it)
 * @param adaptive                   choose k from measured acceptance and costs (off: always {@code maxDrafts})
 * @param layerSkipLayers            target layers the {@code layerskip} proposer runs on the coordinator
 * @param draftCheckpoint            draft checkpoint of the {@code draft} proposer; "" = the Tandem home's default
 *                                   draft, when present
 * @param threads                    compute threads of the coordinator's own draft forwards (draft, layerskip)
 * @param maxDraftProbabilityEntries most non-zero draft probabilities (q) one step carries to the last stage
 *                                   when sampling with a non-deterministic draft; drafts beyond are not sent
 *                                   (fewer drafts never change the output)
 * @param logInterval                how often per-proposer statistics are logged (0 = never)
 * @param warmUpForwards             draft forwards run on a background thread when a model proposer (draft,
 *                                   layerskip) is first needed, so that its kernels are compiled (0 = none)
 */
public record SpeculationSettings(String defaultProposer, int maxDrafts, boolean adaptive, int layerSkipLayers,
                                  String draftCheckpoint, int threads, int maxDraftProbabilityEntries,
                                  java.time.Duration logInterval, int warmUpForwards) {

    public static final String PATH = "tandem.coordinator.speculation";

    public SpeculationSettings {
        defaultProposer = defaultProposer.toLowerCase(Locale.ROOT);
        if (!Proposers.NAMES.contains(defaultProposer)) {
            throw new IllegalArgumentException(PATH + ".default-proposer must be one of " + String.join(", ", Proposers.NAMES)
                    + ", got '" + defaultProposer + "'");
        }
        if (maxDrafts < 0 || maxDrafts > 64) throw new IllegalArgumentException(PATH + ".max-drafts must be in [0, 64], got " + maxDrafts);
        if (layerSkipLayers < 1) throw new IllegalArgumentException(PATH + ".layerskip-layers must be >= 1, got " + layerSkipLayers);
        if (threads < 1) throw new IllegalArgumentException(PATH + ".threads must be >= 1, got " + threads);
        if (warmUpForwards < 0) throw new IllegalArgumentException(PATH + ".warm-up-forwards must be >= 0, got " + warmUpForwards);
        if (maxDraftProbabilityEntries < 0) throw new IllegalArgumentException(PATH + ".max-draft-probability-entries must be >= 0");
    }

    public static SpeculationSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        return new SpeculationSettings(c.getString("default-proposer"), c.getInt("max-drafts"), c.getBoolean("adaptive"),
                c.getInt("layerskip-layers"), c.getString("draft-checkpoint"), c.getInt("threads"),
                c.getInt("max-draft-probability-entries"), c.getDuration("log-interval"), c.getInt("warm-up-forwards"));
    }
}
