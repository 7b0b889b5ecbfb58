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
import dev.tandem.engine.llama.StageKernelWarmUp;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.model.ResidentWeights;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.AcceptanceTest;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.ActivationMessage;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.protocol.transport.DirectTransport;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One pipeline stage: layers [from, to) of a model on this worker, with the KV caches of every sequence
 * passing through and a {@link ParallelRunner} for the forward pass. Runs on the worker's stage dispatcher.
 *
 * <p>A step enters the first stage of its route as token rows ({@link ForwardTokens}), travels on as
 * hidden states ({@link ForwardHidden}, an Arrow batch inside), and the last stage verifies: for each sequence
 * in the step, its rows with logits are [last committed token, draft 1 .. draft k] (k = 0 without
 * speculation), and the sequence's {@link AcceptanceTest} turns them into 1 to k + 1 output tokens, exactly
 * what the target alone would output. The last stage drops the KV of rejected drafts at once; earlier stages
 * drop it when the sequence's next step writes from its first row's position (or on release), so no stale
 * position is ever read. Only the tokens travel back ({@link StepVerified}), never logits. Any bad input is
 * answered with {@link StepFailed}; the stage's state is left as it was (validation runs before the cache
 * is written).
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
                                List<SequenceSampling> newSequences, List<SequenceDraft> drafts,
                                List<ActorRef<Command>> route, ActorRef<StepReply> replyTo) implements Command, KryoMessage {
        public ForwardTokens {
            newSequences = List.copyOf(newSequences);
            drafts = List.copyOf(drafts);
            route = List.copyOf(route);
        }

        public int rows() { return seqIds.length; }
    }

    /** Input of a later stage: the previous stage's hidden states; {@code hop} is this stage's index in the route. */
    public record ForwardHidden(ActivationBatch batch, List<SequenceSampling> newSequences, List<SequenceDraft> drafts,
                                List<ActorRef<Command>> route, int hop, ActorRef<StepReply> replyTo)
            implements Command, ActivationMessage {
        public ForwardHidden {
            newSequences = List.copyOf(newSequences);
            drafts = List.copyOf(drafts);
            route = List.copyOf(route);
        }
    }

    /** Frees the KV caches (and samplers) of these sequences; unknown ids are ignored. */
    public record Release(long[] seqIds) implements Command, KryoMessage {}

    /** A cluster member left for good: the sequences it drove are abandoned, their KV is freed here. */
    private record MemberGone(akka.actor.Address address) implements Command {}

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

    /**
     * A sequence's sampler settings, carried by its first step (and by a replay) to the last stage, with its
     * traffic class ("" = none given) and its committed tokens so far (the prompt with BOS, or prompt plus
     * generated tokens on a replay), which the last stage's recorder needs as the teacher's context.
     */
    public record SequenceSampling(long seqId, SamplerSettings settings, String trafficClass, int[] history) {
        public SequenceSampling(long seqId, SamplerSettings settings) {
            this(seqId, settings, "", new int[0]);
        }
    }

    /**
     * The drafted tokens of one sequence in one step, for the last stage's acceptance test, with the draft
     * distribution q of each token when the draft was sampled: row i's non-zero q entries are
     * {@code qIds/qProbs[qStarts[i] .. qStarts[i + 1])}; an empty row means the token was certain (q one-hot),
     * as every greedy or n-gram draft is. Sparse, because a draft over a reduced vocabulary (or a target with
     * top-k/top-p) leaves most of q at zero.
     */
    public record SequenceDraft(long seqId, int[] tokens, int[] qStarts, int[] qIds, float[] qProbs) {

        /** Encodes a proposer's draft. */
        public static SequenceDraft of(long seqId, Draft draft) {
            int k = draft.count();
            int[] tokens = new int[k];
            int[] starts = new int[k + 1];
            int entries = probabilityEntries(draft);
            int[] ids = new int[entries];
            float[] probs = new float[entries];
            int e = 0;
            for (int i = 0; i < k; i++) {
                tokens[i] = draft.token(i);
                starts[i] = e;
                if (draft.isOneHot(i)) continue;
                float[] q = draft.probabilities();
                int off = i * draft.vocab();
                for (int t = 0; t < draft.vocab(); t++) {
                    if (q[off + t] > 0f) {
                        ids[e] = t;
                        probs[e++] = q[off + t];
                    }
                }
            }
            starts[k] = e;
            return new SequenceDraft(seqId, tokens, starts, ids, probs);
        }

        /** Non-zero q entries a draft would carry (0 when every token is certain). */
        public static int probabilityEntries(Draft draft) {
            int entries = 0;
            for (int i = 0; i < draft.count(); i++) {
                if (draft.isOneHot(i)) continue;
                float[] q = draft.probabilities();
                int off = i * draft.vocab();
                for (int t = 0; t < draft.vocab(); t++) if (q[off + t] > 0f) entries++;
            }
            return entries;
        }

        /** Checks shapes and ranges (bytes from the network). */
        void validate(int vocab) {
            int k = tokens.length;
            if (qStarts.length != k + 1 || qIds.length != qProbs.length || qStarts[0] != 0 || qStarts[k] != qIds.length) {
                throw new IllegalArgumentException("the draft of sequence " + seqId + " has inconsistent q rows");
            }
            for (int i = 0; i < k; i++) {
                if (tokens[i] < 0 || tokens[i] >= vocab) {
                    throw new IllegalArgumentException("draft token " + tokens[i] + " is outside the vocabulary of " + vocab);
                }
                if (qStarts[i + 1] < qStarts[i]) throw new IllegalArgumentException("the draft of sequence " + seqId + " has inconsistent q rows");
                boolean drawn = qStarts[i + 1] == qStarts[i];
                for (int e = qStarts[i]; e < qStarts[i + 1]; e++) {
                    if (qIds[e] < 0 || qIds[e] >= vocab || !(qProbs[e] > 0f) || qProbs[e] > 1f) {
                        throw new IllegalArgumentException("the draft of sequence " + seqId + " has a q entry outside the vocabulary or (0, 1]");
                    }
                    drawn |= qIds[e] == tokens[i];
                }
                if (!drawn) throw new IllegalArgumentException("draft token " + tokens[i] + " of sequence " + seqId + " has q = 0");
            }
        }

        /** Writes this draft into {@code target} (cleared, with room for it). */
        void fill(Draft target) {
            for (int i = 0; i < tokens.length; i++) {
                if (qStarts[i + 1] == qStarts[i]) {
                    target.addCertain(tokens[i]);
                    continue;
                }
                int off = target.addSampled(tokens[i]);
                float[] q = target.probabilities();
                Arrays.fill(q, off, off + target.vocab(), 0f);
                for (int e = qStarts[i]; e < qStarts[i + 1]; e++) q[off + qIds[e]] = qProbs[e];
            }
        }
    }

    /** What a step's last stage (or a failing stage) sends back to the scheduler. */
    public sealed interface StepReply extends KryoMessage {
        long stepId();
    }

    /**
     * The output of every sequence of the step, in row order: {@code counts[i]} tokens of sequence
     * {@code seqIds[i]} (its accepted drafts, then the target's own), concatenated in {@code tokens}.
     */
    public record StepVerified(long stepId, long[] seqIds, int[] counts, int[] tokens) implements StepReply {}

    /**
     * The step could not run; no stage after {@code stage} saw it.
     *
     * @param resourceExhausted the worker lacked memory for it (retry later), rather than the step being bad
     */
    public record StepFailed(long stepId, String stage, String reason, boolean resourceExhausted) implements StepReply {
        public StepFailed(long stepId, String stage, String reason) {
            this(stepId, stage, reason, false);
        }
    }

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
    /** Owns this stage's copy of its weights (huge pages), freed when the stage stops. */
    private final Arena weightsArena;
    private final LlamaStage stage;
    private final ForwardBatch batch;
    /** Last stage: the acceptance test (the sequence's random state) and committed history of each sequence. */
    private final Map<Long, Verifier> verifiers = new HashMap<>();
    /** Last stage, per step: the drafts by sequence. */
    private final Map<Long, SequenceDraft> stepDrafts = new HashMap<>();
    /** Last stage: scratch for one sequence's draft and output, grown to the longest draft seen. */
    private Draft draft;
    private int[] accepted = new int[1];
    private final StageMetrics metrics;
    /** The step path (activations on, tokens back) bypasses Artery: see {@link DirectTransport}. */
    private final DirectTransport transport;
    private double stepLatencyMs;
    private final VerificationListener recorder;
    /**
     * The node of the scheduler driving each sequence with KV here: when that node leaves the cluster (a
     * coordinator died), nobody will ever release its sequences, so this stage does.
     */
    private final Map<Long, akka.actor.Address> owners = new HashMap<>();

    private static final class Verifier {
        final AcceptanceTest test;
        /** Null when the coordinator sent no history (the recorder then skips the sequence). */
        TokenHistory history;

        Verifier(AcceptanceTest test) { this.test = test; }
    }

    /** Sequence id of the warm-up's scratch sequence; real ids are non-negative. */
    static final long WARM_UP_SEQUENCE = -1;
    /** Weight of the newest step in the step-latency moving average. */
    private static final double LATENCY_AVERAGE_WEIGHT = 0.1;
    /** Token the first stage's warm-up feeds (any id in the vocabulary will do; 1 is BOS in llama2.c vocabularies). */
    private static final int WARM_UP_TOKEN = 1;
    /** Compiles the kernels in the background after start-up (null when off). */
    private final StageKernelWarmUp kernelWarmUp;
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
        // The worker maps each model once; every stage copies just its own layers to where the engine settings say.
        this.weightsArena = Arena.ofShared();
        EngineSettings engine = EngineSettings.fromConfig(context.getSystem().settings().config());
        WeightsMemory memory = engine.weightsMemory();
        try {
            ModelWeights placed = ResidentWeights.place(weights, fromLayer, toLayer, memory, weightsArena);
            this.stage = new LlamaStage(placed, fromLayer, toLayer, runner, settings.initialBatchRows());
            stage.useGreedyScreen(engine.greedyScreen());
            stage.useScreenForTopLogits(engine.screenTopLogits());
            if (recorder.exactTopLogits() > 0) stage.screenTopK(recorder.exactTopLogits());
            this.kernelWarmUp = settings.warmUpKernels().isZero() ? null : StageKernelWarmUp.start(placed, fromLayer, toLayer,
                    settings.warmUpKernels(), "tandem-stage-warm-up-" + model + "-" + fromLayer + "-" + toLayer);
        } catch (RuntimeException e) {
            weightsArena.close();
            runner.close();
            throw e;
        }
        this.batch = new ForwardBatch(config.dim(), settings.initialBatchRows());
        this.warmUpPrefillRows = Math.min(settings.warmUpPrefillRows(), Math.min(config.seqLen(), maxStepRows));
        this.warmUpDecodeSteps = Math.min(settings.warmUpDecodeSteps(), config.seqLen() - warmUpPrefillRows);
        this.metrics = new StageMetrics(context.getSystem(), model, fromLayer, toLayer);
        this.transport = DirectTransport.get(context.getSystem());
        context.getLog().info("stage {} ready ({} threads)", description, runner.threads());
        if (context.getSystem().settings().config().getString("akka.actor.provider").equals("cluster")) {
            ActorRef<akka.cluster.ClusterEvent.MemberRemoved> removed = context.messageAdapter(
                    akka.cluster.ClusterEvent.MemberRemoved.class, e -> new MemberGone(e.member().address()));
            akka.cluster.typed.Cluster.get(context.getSystem()).subscriptions()
                    .tell(akka.cluster.typed.Subscribe.create(removed, akka.cluster.ClusterEvent.MemberRemoved.class));
        }
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ForwardTokens.class, this::onTokens)
                .onMessage(ForwardHidden.class, this::onHidden)
                .onMessage(Release.class, this::onRelease)
                .onMessage(GetStatus.class, this::onStatus)
                .onMessage(WarmUp.class, this::onWarmUp)
                .onMessage(MemberGone.class, this::onMemberGone)
                .onSignal(PostStop.class, signal -> {
                    metrics.remove();
                    if (kernelWarmUp != null) kernelWarmUp.stop(); // it reads the weights closed below
                    runner.close();
                    weightsArena.close();
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
                batch.addToken(step.seqIds()[r], step.positions()[r], token, rowOutput(step.seqIds()[r], step.flags()[r]));
            }
            run(step.stepId(), step.flags(), step.newSequences(), step.drafts(), step.route(), 0, step.replyTo());
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
                        rowOutput(in.seqIds()[r], in.flags()[r]));
            }
            run(in.stepId(), in.flags(), step.newSequences(), step.drafts(), step.route(), step.hop(), step.replyTo());
        } catch (RuntimeException e) {
            fail(in.stepId(), step.replyTo(), e);
        }
        return this;
    }

    /**
     * What a row wants from this stage's head: a row with logits of a greedy sequence whose logits nobody records
     * needs only its argmax, and one the recorder keeps only its top logits (the engine may then skip the whole head
     * product). A sequence new to this stage starts
     * with logits: its acceptance test and the recorder's choice arrive with the step.
     */
    private RowOutput rowOutput(long seqId, int flags) {
        if (!RowFlags.has(flags, RowFlags.WANT_LOGITS)) return RowOutput.HIDDEN;
        if (!stage.isLast()) return RowOutput.LOGITS;
        Verifier v = verifiers.get(seqId);
        if (v == null) return RowOutput.LOGITS;
        // A sequence without history is not recorded (see record).
        VerificationListener listener = v.history == null ? VerificationListener.NONE : recorder;
        return listener.verifiedRow(seqId, v.test.settings().isGreedy());
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
    private void run(long stepId, int[] flags, List<SequenceSampling> newSequences, List<SequenceDraft> drafts,
                     List<ActorRef<Command>> route, int hop, ActorRef<StepReply> replyTo) {
        if (stage.isLast()) checkVerification(newSequences, drafts);
        long started = System.nanoTime();
        StageOutput out = stage.forward(batch);
        recordStep(started);
        int rows = out.rows();
        akka.actor.Address owner = replyTo.path().address();
        for (int r = 0; r < rows; r++) {
            if (r == 0 || batch.seqId(r) != batch.seqId(r - 1)) owners.putIfAbsent(batch.seqId(r), owner);
        }
        if (!stage.isLast()) {
            long[] seqIds = new long[rows];
            int[] positions = new int[rows];
            for (int r = 0; r < rows; r++) {
                seqIds[r] = batch.seqId(r);
                positions[r] = batch.position(r);
            }
            float[] hidden = Arrays.copyOf(out.hidden(), rows * config.dim());
            ActivationBatch next = new ActivationBatch(model, stepId, config.dim(), seqIds, positions, flags.clone(), hidden);
            transport.tell(route.get(hop + 1), new ForwardHidden(next, newSequences, drafts, route, hop + 1, replyTo));
            return;
        }
        for (SequenceSampling s : newSequences) start(s);
        transport.tell(replyTo, verify(stepId, out));
    }

    /**
     * A sequence's first step here (or its replay): a replay that kept this last stage keeps the acceptance
     * test, and so its random state, so sampled output continues as if nothing had happened.
     */
    private void start(SequenceSampling s) {
        Verifier v = verifiers.get(s.seqId());
        boolean fresh = v == null;
        if (fresh) {
            v = new Verifier(new AcceptanceTest(s.settings(), config.vocabSize()));
            verifiers.put(s.seqId(), v);
        }
        v.history = s.history().length == 0 ? null : new TokenHistory(s.history(), s.history().length + 1);
        if (fresh && v.history != null) recorder.onStart(s.seqId(), s.history(), s.trafficClass());
    }

    /** Each sequence's rows with logits are [last committed token, its drafts]: the acceptance test decides. */
    private StepVerified verify(long stepId, StageOutput out) {
        int rows = out.rows();
        long[] seqIds = new long[out.logitRows()];
        int[] counts = new int[out.logitRows()];
        int[] tokens = new int[out.logitRows()];
        int n = 0;
        int t = 0;
        for (int r = 0; r < rows; ) {
            if (!out.hasGreedyToken(r)) { // a row without logits nor greedy token: a prompt row
                r++;
                continue;
            }
            long seqId = batch.seqId(r);
            SequenceDraft d = stepDrafts.get(seqId);
            int k = d == null ? 0 : d.tokens().length;
            Draft current = draft(k);
            if (d != null) d.fill(current);
            Verifier v = verifiers.get(seqId);
            int produced = v.test.verify(out, r, current, accepted);
            int position = batch.position(r);
            // Positions [0, position] and the accepted drafts hold committed keys and values; rejected ones go now.
            stage.cache().truncate(seqId, position + produced);
            record(seqId, v, position + 1, out, r, current, produced);
            seqIds[n] = seqId;
            counts[n++] = produced;
            System.arraycopy(accepted, 0, tokens, t, produced);
            t += produced;
            r += k + 1;
        }
        stepDrafts.clear();
        return new StepVerified(stepId, Arrays.copyOf(seqIds, n), Arrays.copyOf(counts, n), Arrays.copyOf(tokens, t));
    }

    private void record(long seqId, Verifier v, int firstPosition, StageOutput out, int row, Draft current, int produced) {
        if (v.history == null) return;
        if (v.history.length() != firstPosition) {
            v.history = null; // the coordinator's history and ours disagree: record nothing rather than wrong context
            return;
        }
        v.history.append(accepted, produced);
        if (recorder != VerificationListener.NONE) {
            recorder.onVerified(seqId, v.history, firstPosition, out, row, produced, current, produced - 1);
        }
    }

    /** The scratch draft, empty, able to hold {@code k} tokens; the output buffer k + 1. */
    private Draft draft(int k) {
        if (draft == null || draft.capacity() < k) {
            draft = new Draft(Math.max(k, draft == null ? 0 : draft.capacity()), config.vocabSize());
            accepted = new int[draft.capacity() + 1];
        }
        draft.clear();
        return draft;
    }

    /**
     * Before the forward: every sequence with logit rows has an acceptance test (known, or arriving with this
     * step) and exactly one logit row more than its draft has tokens, its drafts lie in the vocabulary, and its
     * draft rows are contiguous with its committed row. Then marks each greedy row with the draft token it checks
     * ({@link ForwardBatch#expectGreedyToken}), so the head can skip the rows after a rejection.
     */
    private void checkVerification(List<SequenceSampling> newSequences, List<SequenceDraft> drafts) {
        stepDrafts.clear();
        for (SequenceDraft d : drafts) {
            d.validate(config.vocabSize());
            if (stepDrafts.put(d.seqId(), d) != null) {
                stepDrafts.clear();
                throw new IllegalArgumentException("sequence " + d.seqId() + " has two drafts in one step");
            }
        }
        try {
            for (int r = 0; r < batch.rows(); ) {
                if (!batch.wantsLogits(r)) {
                    r++;
                    continue;
                }
                long seqId = batch.seqId(r);
                if (!verifiers.containsKey(seqId) && newSequences.stream().noneMatch(s -> s.seqId() == seqId)) {
                    throw new IllegalArgumentException("sequence " + seqId + " has no sampler settings at the last stage");
                }
                SequenceDraft d = stepDrafts.get(seqId);
                int k = d == null ? 0 : d.tokens().length;
                int end = r + 1;
                while (end < batch.rows() && batch.seqId(end) == seqId) end++;
                for (int i = r; i < end; i++) {
                    if (!batch.wantsLogits(i)) {
                        throw new IllegalArgumentException("sequence " + seqId + " has a row without logits after its first row with logits");
                    }
                }
                if (end - r != k + 1) {
                    throw new IllegalArgumentException("sequence " + seqId + " has " + (end - r) + " rows with logits for a draft of "
                            + k + " tokens (expected " + (k + 1) + ")");
                }
                // Greedy rows check the drafts: the head may skip the rows after the first rejection, which the
                // acceptance test never reads.
                if (d != null && batch.output(r) == RowOutput.GREEDY_TOKEN) {
                    for (int i = 0; i < k; i++) batch.expectGreedyToken(r + i, d.tokens()[i]);
                }
                r = end;
            }
            for (SequenceDraft d : drafts) {
                boolean present = false;
                for (int r = 0; r < batch.rows() && !present; r++) present = batch.seqId(r) == d.seqId();
                if (!present) throw new IllegalArgumentException("a draft for sequence " + d.seqId() + ", which has no rows in the step");
            }
        } catch (RuntimeException e) {
            stepDrafts.clear();
            throw e;
        }
    }

    private void fail(long stepId, ActorRef<StepReply> replyTo, RuntimeException e) {
        getContext().getLog().warn("stage {} refused step {}: {}", description, stepId, e.getMessage());
        transport.tell(replyTo, new StepFailed(stepId, description, String.valueOf(e.getMessage())));
    }

    private void recordStep(long startedNanos) {
        double ms = (System.nanoTime() - startedNanos) / 1e6;
        stepLatencyMs = stepLatencyMs == 0 ? ms : stepLatencyMs + LATENCY_AVERAGE_WEIGHT * (ms - stepLatencyMs);
        metrics.step(ms, stage.cache().bytesUsed(), stage.cache().sequences().length);
    }

    private Behavior<Command> onRelease(Release release) {
        for (long seqId : release.seqIds()) {
            stage.cache().release(seqId);
            owners.remove(seqId);
            if (verifiers.remove(seqId) != null) recorder.onRelease(seqId);
        }
        metrics.cache(stage.cache().bytesUsed(), stage.cache().sequences().length);
        return this;
    }

    /** Released through our own mailbox, so that the worker's KV account (in front of this stage) sees it too. */
    private Behavior<Command> onMemberGone(MemberGone gone) {
        long[] orphans = owners.entrySet().stream().filter(e -> e.getValue().equals(gone.address()))
                .mapToLong(Map.Entry::getKey).toArray();
        if (orphans.length > 0) {
            getContext().getLog().info("stage {} frees the KV of {} sequence(s) of {}, which left the cluster",
                    description, orphans.length, gone.address());
            getContext().getSelf().tell(new Release(orphans));
        }
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
