package dev.tandem.coordinator;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.tandem.coordinator.spec.SpeculationSettings;
import dev.tandem.worker.ModelFootprint;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * Typed view of {@code tandem.coordinator} (defaults in this module's {@code reference.conf}).
 *
 * @param defaultModel        the model that the name "default" means
 * @param models              served model name -> model spec (as {@link dev.tandem.engine.model.OpenedModel#open} takes it)
 * @param minWorkers          workers that must be up before the first plan is made
 * @param singletonRole       cluster role of the nodes that may host the placement singleton ("" = any)
 * @param maxBatchSequences   most sequences decoding at once per model (per coordinator)
 * @param maxQueued           most sequences waiting for a batch slot; more are refused (RESOURCE_EXHAUSTED)
 * @param kvTokenBudget       most token positions the active sequences may reserve (prompt + new tokens each)
 * @param maxStepRows         most rows in one micro-batch (a prefill counts its prompt tokens)
 * @param prefillChunkRows    most prompt rows of one sequence per step (a longer prefill takes several steps, between
 *                            which the other sequences decode); 0 = a whole prompt in one step
 * @param maxInFlightSteps    micro-batches in flight per pipeline; 0 = one per stage
 * @param routeWait           how long a request waits for a pipeline before UNAVAILABLE
 * @param stepTimeout         how long a step may take before its sequences fail UNAVAILABLE
 * @param planRefresh         how often schedulers re-subscribe to the placement singleton (it may move)
 * @param askTimeout          timeout of internal queries (status, plans)
 * @param describeTimeout     how long placement waits for a worker's description
 * @param assignTimeout       how long placement waits for a worker to load a range
 * @param replanDelay         pause before placement retries a failed plan
 * @param routeRebuildDeadline how long sequences wait for a new route after a stage of theirs was lost, before
 *                            they fail UNAVAILABLE
 * @param rebalanceMinGain    the automatic rule moves only if the slowest stage gets at least this much faster
 *                            (0.2 = 20% more throughput)
 * @param rebalanceOnJoin     apply the automatic rule when a worker joins
 * @param drainTimeout        longest wait for schedulers to leave the old routes before old stages are dropped
 * @param rebalanceWarmUpSteps made-up decoding steps a rebalance (join, move, auto, drain) sends through a route with
 *                            a new stage before switching to it (0 = none)
 * @param rebalanceWarmUpMaxDuration the switch waits at most this long for them
 * @param rebalanceWarmUpSequences made-up sequences of those steps
 * @param placementHeadCost   what the output head costs the last stage, in layers, when ranges are sized; empty =
 *                            from the model ({@link #headCost})
 * @param speculation         speculative decoding through the pipeline
 */
public record CoordinatorSettings(String defaultModel, Map<String, String> models, int minWorkers, String singletonRole,
                                  int maxBatchSequences, int maxQueued, int kvTokenBudget, int maxStepRows,
                                  int prefillChunkRows, int maxInFlightSteps, Duration routeWait, Duration stepTimeout, Duration planRefresh,
                                  Duration askTimeout, Duration describeTimeout, Duration assignTimeout,
                                  Duration replanDelay, Duration routeRebuildDeadline, double rebalanceMinGain,
                                  boolean rebalanceOnJoin, Duration drainTimeout, int rebalanceWarmUpSteps,
                                  Duration rebalanceWarmUpMaxDuration, int rebalanceWarmUpSequences,
                                  OptionalDouble placementHeadCost, SpeculationSettings speculation) {

    public static final String PATH = "tandem.coordinator";
    private static final String AUTO = "auto";
    /** Dispatcher of the schedulers (they also run the proposers). */
    public static final String SCHEDULER_DISPATCHER = PATH + ".scheduler-dispatcher";

    public CoordinatorSettings {
        models = Map.copyOf(models);
        if (!models.containsKey(defaultModel)) {
            throw new IllegalArgumentException("tandem.coordinator.default-model " + defaultModel
                    + " is not one of tandem.coordinator.models " + models.keySet());
        }
        if (minWorkers < 1) throw new IllegalArgumentException("tandem.coordinator.min-workers must be >= 1");
        if (maxBatchSequences < 1 || maxQueued < 0 || kvTokenBudget < 1 || maxStepRows < 1 || maxInFlightSteps < 0) {
            throw new IllegalArgumentException("tandem.coordinator batch limits must be positive (max-queued and max-in-flight-steps >= 0)");
        }
        if (prefillChunkRows < 0) throw new IllegalArgumentException("tandem.coordinator.prefill-chunk-rows must be >= 0");
        if (rebalanceMinGain < 0) throw new IllegalArgumentException("tandem.coordinator.rebalance.min-gain must be >= 0");
        if (rebalanceWarmUpSteps < 0) throw new IllegalArgumentException("tandem.coordinator.rebalance.warm-up.steps must be >= 0");
        if (!rebalanceWarmUpMaxDuration.isPositive()) throw new IllegalArgumentException("tandem.coordinator.rebalance.warm-up.max-duration must be > 0");
        if (rebalanceWarmUpSequences < 1) throw new IllegalArgumentException("tandem.coordinator.rebalance.warm-up.sequences must be >= 1");
        if (placementHeadCost.isPresent() && !(placementHeadCost.getAsDouble() >= 0 && Double.isFinite(placementHeadCost.getAsDouble()))) {
            throw new IllegalArgumentException("tandem.coordinator.placement.head-cost must be \"auto\" or a number >= 0, got "
                    + placementHeadCost.getAsDouble());
        }
    }

    public static CoordinatorSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        Map<String, String> models = new LinkedHashMap<>();
        for (Map.Entry<String, ConfigValue> e : c.getConfig("models").root().entrySet()) {
            models.put(e.getKey(), String.valueOf(e.getValue().unwrapped()));
        }
        return new CoordinatorSettings(c.getString("default-model"), models, c.getInt("min-workers"),
                c.getString("placement.singleton-role"), c.getInt("max-batch-sequences"), c.getInt("max-queued"),
                c.getInt("kv-token-budget"), c.getInt("max-step-rows"), c.getInt("prefill-chunk-rows"), c.getInt("max-in-flight-steps"),
                c.getDuration("route-wait"), c.getDuration("step-timeout"), c.getDuration("plan-refresh-interval"),
                c.getDuration("ask-timeout"), c.getDuration("placement.describe-timeout"),
                c.getDuration("placement.assign-timeout"), c.getDuration("placement.replan-delay"),
                c.getDuration("route-rebuild-deadline"), c.getDouble("rebalance.min-gain"),
                c.getBoolean("rebalance.on-join"), c.getDuration("rebalance.drain-timeout"),
                c.getInt("rebalance.warm-up.steps"), c.getDuration("rebalance.warm-up.max-duration"),
                c.getInt("rebalance.warm-up.sequences"), parseHeadCost(c), SpeculationSettings.fromConfig(root));
    }

    private static OptionalDouble parseHeadCost(Config c) {
        String key = "placement.head-cost";
        if (c.getValue(key).valueType() == ConfigValueType.STRING && c.getString(key).equals(AUTO)) return OptionalDouble.empty();
        try {
            return OptionalDouble.of(c.getDouble(key));
        } catch (ConfigException.WrongType e) {
            throw new IllegalArgumentException("tandem.coordinator." + key + " must be \"auto\" or a number >= 0, got " + c.getValue(key).render());
        }
    }

    /**
     * What a model's output head costs the last stage, in layers: the configured number, else its weight bytes over a
     * layer's (a decoding step reads every weight once).
     */
    public double headCost(ModelFootprint footprint) {
        if (placementHeadCost.isPresent()) return placementHeadCost.getAsDouble();
        return footprint.layerBytes() > 0 ? (double) footprint.headBytes() / footprint.layerBytes() : 0;
    }

    /** The configured name a request's model name refers to ("default" = the default model). */
    public String resolve(String requested) {
        return requested == null || requested.isEmpty() || requested.equals("default") ? defaultModel : requested;
    }
}
