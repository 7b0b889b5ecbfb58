package dev.tandem.engine.model;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

/**
 * Typed view of {@code tandem.engine} (defaults in the engine's {@code reference.conf}), read by whoever opens
 * a model or builds a stage: the in-process commands from the JVM's configuration ({@link #load()}, so
 * {@code -Dtandem.engine.weights-memory=mapped} works), cluster nodes from their ActorSystem's.
 *
 * @param weightsMemory where stage weights live while they run (see {@link WeightsMemory})
 * @param greedyScreen   whether a last stage finds greedy tokens through an int8 screen of a float32 output head
 *                       (see {@code dev.tandem.engine.llama.GreedyHead}; the tokens are the same either way)
 * @param screenTopLogits whether rows that want only their top k logits exactly (a recorded greedy step) go through
 *                       the screen too
 * @param jitFailureLog  whether nodes and {@code bench engine} log the JIT's give-ups on Tandem's code
 *                       ({@link dev.tandem.engine.jit.JitFailureLog})
 * @param draftWeights   what the draft proposer's products read (see {@link DraftWeights}): a coordinator node's from
 *                       its ActorSystem's configuration, other proposers from {@link #load()}
 */
public record EngineSettings(WeightsMemory weightsMemory, boolean greedyScreen, boolean screenTopLogits, boolean jitFailureLog,
                             DraftWeights draftWeights) {

    public static final String PATH = "tandem.engine";

    public EngineSettings {
        if (weightsMemory == null) throw new IllegalArgumentException("tandem.engine.weights-memory must be set");
        if (draftWeights == null) throw new IllegalArgumentException("tandem.engine.draft-weights must be set");
    }

    /** Reads {@code tandem.engine} from a config that has the engine's reference.conf merged in. */
    public static EngineSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        WeightsMemory memory;
        DraftWeights draftWeights;
        try {
            memory = WeightsMemory.parse(c.getString("weights-memory"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException.BadValue(c.origin(), PATH + ".weights-memory", e.getMessage());
        }
        try {
            draftWeights = DraftWeights.parse(c.getString("draft-weights"));
        } catch (IllegalArgumentException e) {
            throw new ConfigException.BadValue(c.origin(), PATH + ".draft-weights", e.getMessage());
        }
        return new EngineSettings(memory, c.getBoolean("greedy-screen"), c.getBoolean("screen-top-logits"),
                c.getBoolean("jit-failure-log"), draftWeights);
    }

    /** The settings of this JVM: system properties over application.conf over reference.conf. */
    public static EngineSettings load() {
        return fromConfig(ConfigFactory.load());
    }
}
