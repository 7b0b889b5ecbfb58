package dev.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.Sampler;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.Samplers;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.ActivationMessage;
import dev.tandem.protocol.activation.RowFlags;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One pipeline stage: layers [from, to) of a model on this worker, with the KV caches of every sequence
 * passing through and a {@link ParallelRunner} for the forward pass. Runs on the worker's stage dispatcher.
 *
 * <p>A step enters the first stage of its route as token rows ({@link ForwardTokens}), travels on as
 * hidden states ({@link ForwardHidden}, an Arrow batch inside), and the last stage samples the next token of
 * each row that wants logits with that sequence's sampler and replies {@link StepSampled} (tokens, never
 * logits) to the step's {@code replyTo}. Any bad input is answered with {@link StepFailed}; the stage's
 * state is left as it was (validation runs before the cache is written).
 */
public final class StageActor extends AbstractBehavior<StageActor.Command> {

    /** Prefix of stage actor names (a child of the worker node); the large-message lane matches it. */
    public static final String NAME_PREFIX = "stage-";

    public sealed interface Command {}

    /**
     * Input of the first stage of a route: one row per token position. The rows of one sequence are
     * contiguous with consecutive positions (a prompt prefill is one run). {@code flags} are
     * {@link RowFlags} bits; {@code route} lists every stage of the pipeline, this one first.
     * {@code newSequences} carry the sampler settings of sequences that start in this step.
     */
    public record ForwardTokens(long stepId, String model, long[] seqIds, int[] positions, int[] tokens, int[] flags,
                                List<SequenceSampling> newSequences, List<ActorRef<Command>> route,
                                ActorRef<StepReply> replyTo) implements Command, KryoMessage {
        public ForwardTokens {
            newSequences = List.copyOf(newSequences);
            route = List.copyOf(route);
        }

        public int rows() { return seqIds.length; }
    }

    /** Input of a later stage: the previous stage's hidden states; {@code hop} is this stage's index in the route. */
    public record ForwardHidden(ActivationBatch batch, List<SequenceSampling> newSequences,
                                List<ActorRef<Command>> route, int hop, ActorRef<StepReply> replyTo)
            implements Command, ActivationMessage {
        public ForwardHidden {
            newSequences = List.copyOf(newSequences);
            route = List.copyOf(route);
        }
    }

    /** Frees the KV caches (and samplers) of these sequences; unknown ids are ignored. */
    public record Release(long[] seqIds) implements Command, KryoMessage {}

    /** Asks for this stage's memory use. */
    public record GetStatus(ActorRef<StageStatus> replyTo) implements Command, KryoMessage {}

    /**
     * Runs a few forwards on a scratch sequence (a prefill, then single-row steps) so that the kernels are
     * compiled and the buffers sized before the stage is switched into a route; answered with {@link WarmedUp}.
     */
    public record WarmUp(ActorRef<WarmedUp> replyTo) implements Command, KryoMessage {}

    /** @param error empty when the warm-up ran */
    public record WarmedUp(String stage, long millis, String error) implements KryoMessage {
        public boolean ok() { return error.isEmpty(); }
    }

    /** A sequence's sampler settings, carried by its first step to the last stage. */
    public record SequenceSampling(long seqId, SamplerSettings settings) {}

    /** What a step's last stage (or a failing stage) sends back to the scheduler. */
    public sealed interface StepReply extends KryoMessage {
        long stepId();
    }

    /** The sampled next token of every row that wanted logits, in row order. */
    public record StepSampled(long stepId, long[] seqIds, int[] tokens) implements StepReply {}

    /** The step could not run; no stage after {@code stage} saw it. */
    public record StepFailed(long stepId, String stage, String reason) implements StepReply {}

    /**
     * A stage's state: which layers it runs and what its KV caches hold.
     *
     * @param stepLatencyMs moving average of its forward time per step (0 before the first step)
     */
    public record StageStatus(String workerAddress, String model, int fromLayer, int toLayer, long kvBytesUsed,
                              int sequences, double stepLatencyMs) implements KryoMessage {}

    public static Behavior<Command> create(String model, String workerAddress, ModelWeights weights, int fromLayer,
                                           int toLayer, WorkerSettings settings) {
        return create(model, workerAddress, weights, fromLayer, toLayer, settings, VerificationListener.NONE);
    }

    /** @param recorder told about every verification when this is a last stage (online distillation) */
    public static Behavior<Command> create(String model, String workerAddress, ModelWeights weights, int fromLayer,
                                           int toLayer, WorkerSettings settings, VerificationListener recorder) {
        return Behaviors.setup(context -> new StageActor(context, model, workerAddress, weights, fromLayer, toLayer, settings, recorder));
    }

    public static String actorName(String model, int fromLayer, int toLayer) {
        return NAME_PREFIX + model.replaceAll("[^A-Za-z0-9_-]", "_") + "-" + fromLayer + "-" + toLayer;
    }

    private final String model;
    private final String workerAddress;
    private final String description;
    private final ModelConfig config;
    private final int maxStepRows;
    private final ParallelRunner runner;
    private final LlamaStage stage;
    private final ForwardBatch batch;
    private final Map<Long, Sampler> samplers = new HashMap<>();
    private final StageMetrics metrics;
    private double stepLatencyMs;
    private final VerificationListener recorder;

    /** Sequence id of the warm-up's scratch sequence; real ids are non-negative. */
    static final long WARM_UP_SEQUENCE = -1;
    /** Weight of the newest step in the step-latency moving average. */
    private static final double LATENCY_AVERAGE_WEIGHT = 0.1;
    /** Token the first stage's warm-up feeds (any id in the vocabulary will do; 1 is BOS in llama2.c vocabularies). */
    private static final int WARM_UP_TOKEN = 1;
    private final int warmUpPrefillRows;
    private final int warmUpDecodeSteps;

    private StageActor(ActorContext<Command> context, String model, String workerAddress, ModelWeights weights,
                       int fromLayer, int toLayer, WorkerSettings settings, VerificationListener recorder) {
        super(context);
        this.recorder = recorder;
        this.model = model;
        this.workerAddress = workerAddress;
        this.description = model + "[" + fromLayer + "," + toLayer + ")@" + workerAddress;
        this.config = weights.config();
        this.maxStepRows = settings.maxStepRows();
        this.runner = new ParallelRunner(settings.effectiveThreads());
        this.stage = new LlamaStage(weights, fromLayer, toLayer, runner, settings.initialBatchRows());
        this.batch = new ForwardBatch(config.dim(), settings.initialBatchRows());
        this.warmUpPrefillRows = Math.min(settings.warmUpPrefillRows(), Math.min(config.seqLen(), maxStepRows));
        this.warmUpDecodeSteps = Math.min(settings.warmUpDecodeSteps(), config.seqLen() - warmUpPrefillRows);
        this.metrics = new StageMetrics(context.getSystem(), model, fromLayer, toLayer);
        context.getLog().info("stage {} ready ({} threads)", description, runner.threads());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ForwardTokens.class, this::onTokens)
                .onMessage(ForwardHidden.class, this::onHidden)
                .onMessage(Release.class, this::onRelease)
                .onMessage(GetStatus.class, this::onStatus)
                .onMessage(WarmUp.class, this::onWarmUp)
                .onSignal(PostStop.class, signal -> {
                    metrics.remove();
                    runner.close();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onTokens(ForwardTokens step) {
        try {
            if (!stage.isFirst()) throw new IllegalArgumentException("token rows sent to a stage that does not start at layer 0");
            int rows = step.rows();
            if (step.positions().length != rows || step.tokens().length != rows || step.flags().length != rows) {
                throw new IllegalArgumentException("column lengths differ: " + rows + " sequence ids, "
                        + step.positions().length + " positions, " + step.tokens().length + " tokens, "
                        + step.flags().length + " flags");
            }
            checkRoute(step.route(), 0);
            checkRows(rows);
            batch.clear();
            for (int r = 0; r < rows; r++) {
                int token = step.tokens()[r];
                if (token < 0 || token >= config.vocabSize()) {
                    throw new IllegalArgumentException("token " + token + " is outside the vocabulary of " + config.vocabSize());
                }
                batch.addToken(step.seqIds()[r], step.positions()[r], token, RowFlags.has(step.flags()[r], RowFlags.WANT_LOGITS));
            }
            run(step.stepId(), step.flags(), step.newSequences(), step.route(), 0, step.replyTo());
        } catch (RuntimeException e) {
            fail(step.stepId(), step.replyTo(), e);
        }
        return this;
    }

    private Behavior<Command> onHidden(ForwardHidden step) {
        ActivationBatch in = step.batch();
        try {
            if (stage.isFirst()) throw new IllegalArgumentException("hidden-state rows sent to the first stage");
            if (in.dim() != config.dim()) {
                throw new IllegalArgumentException("hidden states of dim " + in.dim() + " sent to a model of dim " + config.dim());
            }
            checkRoute(step.route(), step.hop());
            checkRows(in.rows());
            batch.clear();
            for (int r = 0; r < in.rows(); r++) {
                batch.addHidden(in.seqIds()[r], in.positions()[r], in.hidden(), in.hiddenOffset(r),
                        RowFlags.has(in.flags()[r], RowFlags.WANT_LOGITS));
            }
            run(in.stepId(), in.flags(), step.newSequences(), step.route(), step.hop(), step.replyTo());
        } catch (RuntimeException e) {
            fail(in.stepId(), step.replyTo(), e);
        }
        return this;
    }

    private void checkRoute(List<ActorRef<Command>> route, int hop) {
        if (hop < 0 || hop >= route.size() || !route.get(hop).equals(getContext().getSelf())) {
            throw new IllegalArgumentException("this stage is not hop " + hop + " of the step's route");
        }
        boolean lastHop = hop == route.size() - 1;
        if (lastHop != stage.isLast()) {
            throw new IllegalArgumentException(stage.isLast()
                    ? "the route continues after the last stage" : "the route ends before the model's last layer");
        }
    }

    private void checkRows(int rows) {
        if (rows == 0) throw new IllegalArgumentException("a step needs at least one row");
        if (rows > maxStepRows) throw new IllegalArgumentException("a step of " + rows + " rows exceeds the limit of " + maxStepRows);
    }

    /** Forwards {@link #batch} (validated by the engine before it touches the cache), then passes the result on. */
    private void run(long stepId, int[] flags, List<SequenceSampling> newSequences, List<ActorRef<Command>> route,
                     int hop, ActorRef<StepReply> replyTo) {
        if (stage.isLast()) checkSamplers(newSequences);
        long started = System.nanoTime();
        StageOutput out = stage.forward(batch);
        recordStep(started);
        int rows = out.rows();
        if (!stage.isLast()) {
            long[] seqIds = new long[rows];
            int[] positions = new int[rows];
            for (int r = 0; r < rows; r++) {
                seqIds[r] = batch.seqId(r);
                positions[r] = batch.position(r);
            }
            float[] hidden = Arrays.copyOf(out.hidden(), rows * config.dim());
            ActivationBatch next = new ActivationBatch(model, stepId, config.dim(), seqIds, positions, flags.clone(), hidden);
            route.get(hop + 1).tell(new ForwardHidden(next, newSequences, route, hop + 1, replyTo));
            return;
        }
        for (SequenceSampling s : newSequences) {
            // A sequence replayed after a route change that kept this last stage keeps its sampler (and its
            // random state), so sampled output continues as if nothing had happened.
            samplers.computeIfAbsent(s.seqId(), id -> Samplers.create(s.settings(), config.vocabSize()));
        }
        long[] seqIds = new long[out.logitRows()];
        int[] tokens = new int[out.logitRows()];
        int n = 0;
        for (int r = 0; r < rows; r++) {
            if (!out.hasLogits(r)) continue;
            long seqId = batch.seqId(r);
            seqIds[n] = seqId;
            tokens[n++] = samplers.get(seqId).sample(out.logits(), out.logitsOffset(r), config.vocabSize());
        }
        replyTo.tell(new StepSampled(stepId, seqIds, tokens));
    }

    /** Every row that wants logits needs a sampler: known already or arriving with this step. */
    private void checkSamplers(List<SequenceSampling> newSequences) {
        for (int r = 0; r < batch.rows(); r++) {
            if (!batch.wantsLogits(r)) continue;
            long seqId = batch.seqId(r);
            if (samplers.containsKey(seqId)) continue;
            boolean arriving = false;
            for (SequenceSampling s : newSequences) arriving |= s.seqId() == seqId;
            if (!arriving) throw new IllegalArgumentException("sequence " + seqId + " has no sampler settings at the last stage");
        }
    }

    private void fail(long stepId, ActorRef<StepReply> replyTo, RuntimeException e) {
        getContext().getLog().warn("stage {} refused step {}: {}", description, stepId, e.getMessage());
        replyTo.tell(new StepFailed(stepId, description, String.valueOf(e.getMessage())));
    }

    private void recordStep(long startedNanos) {
        double ms = (System.nanoTime() - startedNanos) / 1e6;
        stepLatencyMs = stepLatencyMs == 0 ? ms : stepLatencyMs + LATENCY_AVERAGE_WEIGHT * (ms - stepLatencyMs);
        metrics.step(ms, stage.cache().bytesUsed(), stage.cache().sequences().length);
    }

    private Behavior<Command> onRelease(Release release) {
        for (long seqId : release.seqIds()) {
            stage.cache().release(seqId);
            samplers.remove(seqId);
        }
        metrics.cache(stage.cache().bytesUsed(), stage.cache().sequences().length);
        return this;
    }

    private Behavior<Command> onStatus(GetStatus query) {
        query.replyTo().tell(new StageStatus(workerAddress, model, stage.fromLayer(), stage.toLayer(),
                stage.cache().bytesUsed(), stage.cache().sequences().length, stepLatencyMs));
        return this;
    }

    /** A prefill-shaped forward and a few decoding steps on a scratch sequence, then the scratch KV is freed. */
    private Behavior<Command> onWarmUp(WarmUp request) {
        long started = System.nanoTime();
        try {
            float[] zeros = new float[config.dim()];
            for (int step = 0; step <= warmUpDecodeSteps; step++) {
                batch.clear();
                int from = step == 0 ? 0 : warmUpPrefillRows + step - 1;
                int to = step == 0 ? warmUpPrefillRows : from + 1;
                for (int p = from; p < to; p++) {
                    boolean logits = p == to - 1;
                    if (stage.isFirst()) batch.addToken(WARM_UP_SEQUENCE, p, WARM_UP_TOKEN, logits);
                    else batch.addHidden(WARM_UP_SEQUENCE, p, zeros, 0, logits);
                }
                stage.forward(batch);
            }
            request.replyTo().tell(new WarmedUp(description, (System.nanoTime() - started) / 1_000_000, ""));
        } catch (RuntimeException e) {
            getContext().getLog().warn("stage {} failed to warm up: {}", description, e.toString());
            request.replyTo().tell(new WarmedUp(description, 0, String.valueOf(e.getMessage())));
        } finally {
            stage.cache().release(WARM_UP_SEQUENCE);
        }
        return this;
    }
}
