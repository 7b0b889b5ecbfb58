package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.Gauge;
import dev.tandem.protocol.metrics.Histogram;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;

/**
 * The coordinator's series in its node's {@link NodeMetrics} registry (documented in docs/pipeline.md).
 * Registration is idempotent, so every actor may ask for it.
 */
public final class CoordinatorMetrics {

    /** Sequences per micro-batch. */
    private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128};

    private final Counter requests;
    private final Counter promptTokens;
    private final Counter completionTokens;
    private final Histogram timeToFirstToken;
    private final Histogram interTokenLatency;
    private final Histogram batchSequences;
    private final Histogram stepRoundTrip;
    private final Gauge queueDepth;
    private final Gauge activeSequences;
    private final Counter rebalanceEvents;
    private final Histogram rebalanceDuration;
    private final Histogram routeRecovery;
    private final Counter replays;
    private final Counter speculationSteps;
    private final Counter draftsProposed;
    private final Counter draftsAccepted;
    private final Counter speculationTokens;

    private CoordinatorMetrics(MetricsRegistry r) {
        requests = r.counter("tandem_requests_total", "Generation requests by model and outcome "
                + "(eos, length, stop, cancelled, or the refusal's status code in lower case)", "model", "outcome");
        promptTokens = r.counter("tandem_prompt_tokens_total", "Prompt tokens of finished requests", "model");
        completionTokens = r.counter("tandem_completion_tokens_total", "Tokens generated", "model");
        timeToFirstToken = r.histogram("tandem_time_to_first_token_ms", "From accepting a request to its first token",
                MetricsRegistry.LATENCY_MS_BUCKETS, "model");
        interTokenLatency = r.histogram("tandem_inter_token_latency_ms", "Time between two tokens of a stream",
                MetricsRegistry.LATENCY_MS_BUCKETS, "model");
        batchSequences = r.histogram("tandem_batch_sequences", "Sequences per micro-batch sent into a pipeline",
                BATCH_BUCKETS, "model");
        stepRoundTrip = r.histogram("tandem_step_round_trip_ms", "From sending a micro-batch into the pipeline to its "
                + "verified tokens coming back (minus the stages' step latencies: the transport and queueing share)",
                MetricsRegistry.LATENCY_MS_BUCKETS, "model");
        queueDepth = r.gauge("tandem_queue_depth", "Sequences waiting for a batch slot", "model");
        activeSequences = activeSequences(r);
        rebalanceEvents = r.counter("tandem_rebalance_events_total", "Plan changes by kind (initial, move, auto, drain, "
                + "join, failover) and outcome (done, unchanged, refused)", "kind", "outcome");
        rebalanceDuration = r.histogram("tandem_rebalance_duration_ms", "From a plan change's start to the old stages' drop",
                MetricsRegistry.LATENCY_MS_BUCKETS, "kind");
        routeRecovery = r.histogram("tandem_route_recovery_ms", "From losing a stage of the route to the first token "
                + "on the rebuilt route", MetricsRegistry.LATENCY_MS_BUCKETS, "model");
        replays = r.counter("tandem_sequence_replays_total", "Sequences re-prefilled from their token history on a new "
                + "route (reason: rebalance or failover)", "model", "reason");
        speculationSteps = r.counter("tandem_speculation_steps_total", "Decoding steps (one verification each) by proposer; "
                + "the proposer label of the draft proposer names the draft's class and version when it has one", "model", "proposer");
        draftsProposed = r.counter("tandem_drafts_proposed_total", "Draft tokens sent for verification", "model", "proposer");
        draftsAccepted = r.counter("tandem_drafts_accepted_total", "Draft tokens the target accepted "
                + "(accepted / proposed = acceptance rate)", "model", "proposer");
        speculationTokens = r.counter("tandem_speculation_tokens_total", "Tokens output by decoding steps "
                + "(tokens / steps = mean tokens per step)", "model", "proposer");
    }

    public static CoordinatorMetrics of(ActorSystem<?> system) {
        return new CoordinatorMetrics(NodeMetrics.of(system));
    }

    public void requestEnded(String model, String outcome, int prompt, int completion) {
        requests.labels(model, outcome).inc(1);
        promptTokens.labels(model).inc(prompt);
        completionTokens.labels(model).inc(completion);
    }

    public void firstToken(String model, double millis) { timeToFirstToken.labels(model).observe(millis); }

    public void interToken(String model, double millis) { interTokenLatency.labels(model).observe(millis); }

    public void batch(String model, int sequences) { batchSequences.labels(model).observe(sequences); }

    public void stepRoundTrip(String model, double millis) { stepRoundTrip.labels(model).observe(millis); }

    public void load(String model, int queued, int active) {
        queueDepth.set(queued, model);
        activeSequences.set(active, model);
    }

    public void rebalanceEvent(String kind, String outcome, double seconds) {
        rebalanceEvents.labels(kind, outcome).inc(1);
        rebalanceDuration.labels(kind).observe(seconds * 1000);
    }

    public void recovered(String model, double millis) { routeRecovery.labels(model).observe(millis); }

    public void replayed(String model, String reason, int sequences) { replays.labels(model, reason).inc(sequences); }

    /** One verified step of one sequence: {@code proposed} drafts, {@code accepted} of them kept, {@code tokens} output. */
    public void speculation(String model, String proposer, int proposed, int accepted, int tokens) {
        speculationSteps.labels(model, proposer).inc(1);
        draftsProposed.labels(model, proposer).inc(proposed);
        draftsAccepted.labels(model, proposer).inc(accepted);
        speculationTokens.labels(model, proposer).inc(tokens);
    }

    /** The gauge of sequences decoding on this coordinator, by model (also read by the draft replicator: it waits them out). */
    public static Gauge activeSequences(MetricsRegistry r) {
        return r.gauge("tandem_active_sequences", "Sequences decoding on this coordinator", "model");
    }
}
