package dev.tandem.coordinator.scheduler;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.Address;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import dev.tandem.coordinator.CoordinatorMetrics;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.coordinator.placement.PlacementManager;
import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.DraftLengthController;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.engine.spec.SpeculationCosts;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.coordinator.spec.ProposerCatalog;
import dev.tandem.coordinator.spec.SpeculationSettings;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.protocol.transport.DirectTransport;
import dev.tandem.worker.StageActor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.HashSet;
import java.util.function.Consumer;

/**
 * Continuous batching for one model on one coordinator. Sequences are admitted at step boundaries (up to
 * {@code max-batch-sequences} and the KV token budget; the rest wait in a bounded queue) and leave as soon as
 * they finish. Each step is a micro-batch of token rows into the first stage of the model's pipeline: a
 * newly admitted sequence contributes its prompt (prefill, in chunks of at most {@code prefill-chunk-rows} over
 * consecutive steps), a decoding one its last
 * token followed by the k tokens its proposer drafted (speculative decoding; k adapts per sequence to the
 * measured acceptance and costs, and shrinks as batches grow). Up to one micro-batch per stage is in flight,
 * the active sequences split evenly between them, so every stage has work while the others compute. The
 * last stage verifies and replies with each sequence's output tokens (1 to k + 1: the accepted drafts and the
 * target's own), exactly what the target alone would output.
 *
 * <p>A sequence is in at most one step at a time (its next token depends on the previous one). Its KV
 * caches are released on every stage of its route once it finishes and is in no step, so a release never
 * overtakes a step that would write the cache again.
 */
public final class Scheduler extends AbstractBehavior<Scheduler.Command> {

    public sealed interface Command {}

    /**
     * Starts a sequence. {@code promptTokens} include BOS and are shorter than the context.
     * Events go to {@code replyTo}: {@link Token}s, then {@link Finished}, or {@link Rejected}.
     */
    public record Submit(long seqId, int[] promptTokens, int maxNewTokens, SamplerSettings sampling, String speculate,
                         String trafficClass, ActorRef<SequenceEvent> replyTo) implements Command {}

    /** Ends a sequence early (its stream was cancelled or hit a stop string). */
    public record Cancel(long seqId) implements Command {}

    /** The current plan of this scheduler's model, if any. */
    public record GetPlan(ActorRef<Optional<PipelinePlan>> replyTo) implements Command {}

    private record PlanUpdated(PipelinePlan plan) implements Command {}

    private record StepDone(StageActor.StepReply reply) implements Command {}

    private record StepTimedOut(long stepId) implements Command {}

    private record RouteWaitOver(long seqId) implements Command {}

    /** A stage of some route stopped (its worker was downed, or it was dropped after a switch). */
    private record StageLost(ActorRef<StageActor.Command> stage) implements Command {}

    private enum RebuildDeadline implements Command { INSTANCE }

    private enum Resubscribe implements Command { INSTANCE }

    private enum LogSpeculation implements Command { INSTANCE }

    /** What a sequence's submitter hears. */
    public sealed interface SequenceEvent {
        long seqId();
    }

    /**
     * A generated token (the EOS/BOS that ends a sequence included), with the sequence's speculation counts so
     * far (as in {@link Finished}).
     */
    public record Token(long seqId, int token, long steps, String proposer, long proposed, long accepted, long rejected)
            implements SequenceEvent {}

    /**
     * @param steps    pipeline steps of the sequence after its prefill
     * @param proposer the proposer that drafted for it ({@code none} without speculation)
     * @param proposed draft tokens sent for verification
     * @param accepted draft tokens the target accepted
     * @param rejected draft tokens the target rejected: steps with a rejection (the first rejected draft ends a
     *                 step's verification, so accepted / (accepted + rejected) is the per-token acceptance)
     */
    public record Finished(long seqId, FinishReason reason, long steps, String proposer, long proposed, long accepted, long rejected)
            implements SequenceEvent {}

    public record Rejected(long seqId, GenerationRejected.Code code, String message) implements SequenceEvent {}

    /** What the scheduler needs of its model. */
    public record ModelLimits(String model, int contextLength, int vocabSize, int bosId, int eosId) {}

    /**
     * @param proposers the model's proposers; the scheduler owns it (closes it when it stops). Made by
     *                  {@code proposerFactory} inside the actor so that a restart gets a fresh one.
     */
    public static Behavior<Command> create(CoordinatorSettings settings, ModelLimits model,
                                           java.util.function.Supplier<ProposerCatalog> proposers,
                                           ActorRef<PlacementManager.Command> placement, Consumer<Boolean> readiness) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers ->
                new Scheduler(context, timers, settings, model, proposers.get(), placement, readiness)));
    }

    /** A sequence's state; owned by the scheduler alone. */
    private static final class Sequence {
        final long id;
        final ActorRef<SequenceEvent> replyTo;
        final SamplerSettings sampling;
        final String trafficClass;
        /** The prompt (with BOS) followed by every token output so far. */
        final TokenHistory history;
        final int promptLength;
        /** The proposer's name (resolved at submission); the proposer itself is opened on admission. */
        final String proposerName;
        Proposer proposer;
        final DraftLengthController controller;
        final Draft draft;
        /** Draft tokens sent in the step in flight (0 without speculation). */
        int drafted;
        long proposed;
        long accepted;
        long rejected;
        /** New tokens allowed: max-new-tokens, or what the context leaves (the last sampled token needs no forward). */
        final int budget;
        /** KV positions reserved against the token budget. */
        final int kvTokens;
        int generated;
        long steps;
        /**
         * The next steps must (re)compute the KV of the whole token history: true for a new sequence (its
         * prompt) and after its route changed or lost a stage (a replay: prompt + generated tokens, in a
         * prefill whose last row samples the next token; bit-identical to the incremental KV, see docs), until
         * the prefill's last chunk has sampled.
         */
        boolean needsPrefill = true;
        /** Positions of the history whose KV earlier chunks of the current prefill computed (chunked prefill). */
        int prefilled;
        /** Rows of the prefill chunk in flight (0 when the step in flight decodes). */
        int chunkRows;
        boolean inFlight;
        boolean cancelled;
        /** The plan whose stages hold this sequence's KV. */
        PipelinePlan route;

        Sequence(Submit submit, int contextLength, String proposerName, SpeculationSettings speculation, int vocab) {
            this.id = submit.seqId();
            this.replyTo = submit.replyTo();
            this.sampling = submit.sampling();
            this.trafficClass = submit.trafficClass() == null ? "" : submit.trafficClass();
            this.promptLength = submit.promptTokens().length;
            this.budget = Math.min(submit.maxNewTokens(), contextLength - promptLength + 1);
            // Drafts stay within the budget, so the reservation also covers every verified position.
            this.kvTokens = Math.min(promptLength + budget - 1, contextLength);
            this.history = new TokenHistory(submit.promptTokens(), promptLength + budget);
            this.proposerName = proposerName;
            this.controller = new DraftLengthController(speculation.maxDrafts(), speculation.adaptive());
            this.draft = new Draft(speculation.maxDrafts(), vocab);
        }

        int length() { return history.length(); }

        /** The next step recomputes the KV of the whole history (a new route, or a lost stage), from position 0. */
        void restartPrefill() {
            needsPrefill = true;
            prefilled = 0;
        }

        /** Rows of the next step: its next prefill chunk (at most {@code chunk} rows; 0 = no limit), else one. */
        int nextRows(int chunk) {
            if (!needsPrefill) return 1;
            int left = length() - prefilled;
            return chunk > 0 ? Math.min(left, chunk) : left;
        }
    }

    private final TimerScheduler<Command> timers;
    private final CoordinatorSettings settings;
    private final ModelLimits model;
    private final ActorRef<PlacementManager.Command> placement;
    private final Consumer<Boolean> readiness;
    private final ActorRef<PipelinePlan> planReceiver;
    private final ActorRef<StageActor.StepReply> stepReceiver;
    private final ProposerCatalog proposers;
    /** Per proposer since the last log line: steps, drafts proposed, drafts accepted, tokens output. */
    private final Map<String, long[]> speculationLog = new java.util.TreeMap<>();

    private final ArrayDeque<Sequence> queue = new ArrayDeque<>();
    private final Map<Long, Sequence> active = new LinkedHashMap<>();
    /** A micro-batch in flight, with the plan whose route it took; {@code decodeOnly}: no prefill rows. */
    private record Step(List<Sequence> sequences, PipelinePlan plan, long sentAt, int rows, boolean decodeOnly) {}

    private final Map<Long, Step> inFlight = new HashMap<>();
    private final CoordinatorMetrics metrics;
    /** Steps and releases go to the stages over the direct transport (see {@link DirectTransport}). */
    private final DirectTransport transport;
    private PipelinePlan plan;
    /** Stages of routes that stopped; a plan containing one is broken until placement replaces it. */
    private final Set<ActorRef<StageActor.Command>> lostStages = new HashSet<>();
    private final Set<ActorRef<StageActor.Command>> watchedStages = new HashSet<>();
    /** When the current route broke (System.nanoTime), 0 when it is whole; cleared by the first token after. */
    private long brokenSince;
    private long recoveringSince;
    /** The highest plan version reported to placement as adopted. */
    private long adoptedVersion;
    private int kvTokensReserved;
    private long nextStepId = 1;

    private Scheduler(ActorContext<Command> context, TimerScheduler<Command> timers, CoordinatorSettings settings,
                      ModelLimits model, ProposerCatalog proposers, ActorRef<PlacementManager.Command> placement,
                      Consumer<Boolean> readiness) {
        super(context);
        this.proposers = proposers;
        this.timers = timers;
        this.settings = settings;
        this.model = model;
        this.placement = placement;
        this.readiness = readiness;
        this.planReceiver = context.messageAdapter(PipelinePlan.class, PlanUpdated::new);
        this.stepReceiver = context.messageAdapter(StageActor.StepReply.class, StepDone::new);
        this.metrics = CoordinatorMetrics.of(context.getSystem());
        this.transport = DirectTransport.get(context.getSystem());
        placement.tell(new PlacementManager.SubscribePlans(model.model(), planReceiver));
        timers.startTimerWithFixedDelay(Resubscribe.INSTANCE, Resubscribe.INSTANCE, settings.planRefresh());
        java.time.Duration logEvery = proposers.settings().logInterval();
        if (!logEvery.isZero()) timers.startTimerWithFixedDelay(LogSpeculation.INSTANCE, LogSpeculation.INSTANCE, logEvery);
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Submit.class, this::onSubmit)
                .onMessage(Cancel.class, this::onCancel)
                .onMessage(GetPlan.class, query -> {
                    query.replyTo().tell(Optional.ofNullable(plan));
                    return this;
                })
                .onMessage(PlanUpdated.class, this::onPlan)
                .onMessage(StepDone.class, this::onStepDone)
                .onMessage(StepTimedOut.class, this::onStepTimedOut)
                .onMessage(RouteWaitOver.class, this::onRouteWaitOver)
                .onMessage(StageLost.class, this::onStageLost)
                .onMessage(RebuildDeadline.class, this::onRebuildDeadline)
                .onMessage(Resubscribe.class, r -> {
                    placement.tell(new PlacementManager.SubscribePlans(model.model(), planReceiver));
                    return this;
                })
                .onMessage(LogSpeculation.class, l -> logSpeculation())
                .onSignal(akka.actor.typed.PostStop.class, stop -> closeProposers())
                .onSignal(akka.actor.typed.PreRestart.class, restart -> closeProposers())
                .build();
    }

    private Behavior<Command> closeProposers() {
        for (Sequence s : active.values()) if (s.proposer != null) s.proposer.close();
        proposers.close();
        return this;
    }

    private Behavior<Command> logSpeculation() {
        speculationLog.forEach((proposer, c) -> getContext().getLog().info(
                "{} speculation with {}: {} steps, {} tokens ({} per step), {}/{} drafts accepted ({}); costs: {}",
                model.model(), proposer, c[0], c[3], String.format("%.2f", c[3] / (double) c[0]), c[2], c[1],
                c[1] == 0 ? "-" : String.format("%.2f", c[2] / (double) c[1]), proposers.costs().describe(proposer)));
        speculationLog.clear();
        return this;
    }

    private Behavior<Command> onSubmit(Submit submit) {
        int prompt = submit.promptTokens().length;
        if (prompt == 0 || prompt >= model.contextLength()) {
            submit.replyTo().tell(new Rejected(submit.seqId(), GenerationRejected.Code.INVALID_ARGUMENT,
                    "the prompt is " + prompt + " tokens; model " + model.model() + " takes 1 to "
                            + (model.contextLength() - 1) + " so that one token can follow"));
            return this;
        }
        if (submit.maxNewTokens() < 1) {
            submit.replyTo().tell(new Rejected(submit.seqId(), GenerationRejected.Code.INVALID_ARGUMENT,
                    "max new tokens must be at least 1, got " + submit.maxNewTokens()));
            return this;
        }
        if (active.containsKey(submit.seqId())) {
            submit.replyTo().tell(new Rejected(submit.seqId(), GenerationRejected.Code.INTERNAL,
                    "sequence id " + submit.seqId() + " is in use"));
            return this;
        }
        String proposerName;
        try {
            proposerName = proposers.resolve(submit.speculate());
        } catch (GenerationRejected e) {
            submit.replyTo().tell(new Rejected(submit.seqId(), e.code(), e.getMessage()));
            return this;
        }
        Sequence sequence = new Sequence(submit, model.contextLength(), proposerName, proposers.settings(), model.vocabSize());
        if (sequence.kvTokens > settings.kvTokenBudget()) {
            submit.replyTo().tell(new Rejected(submit.seqId(), GenerationRejected.Code.RESOURCE_EXHAUSTED,
                    "the request needs " + sequence.kvTokens + " cached tokens; the KV budget is " + settings.kvTokenBudget()));
            return this;
        }
        if (queue.size() >= settings.maxQueued() && !canAdmit(sequence)) {
            submit.replyTo().tell(new Rejected(submit.seqId(), GenerationRejected.Code.RESOURCE_EXHAUSTED,
                    "model " + model.model() + " is busy: " + active.size() + " sequences are generating and "
                            + queue.size() + " are waiting (the queue holds " + settings.maxQueued() + "); retry later"));
            return this;
        }
        queue.addLast(sequence);
        if (plan == null) timers.startSingleTimer(routeWaitKey(sequence.id), new RouteWaitOver(sequence.id), settings.routeWait());
        else if (broken()) timers.startSingleTimer(routeWaitKey(sequence.id), new RouteWaitOver(sequence.id), settings.routeRebuildDeadline());
        launchSteps();
        return this;
    }

    private boolean canAdmit(Sequence sequence) {
        return plan != null && !broken() && queue.isEmpty() && active.size() < settings.maxBatchSequences()
                && kvTokensReserved + sequence.kvTokens <= settings.kvTokenBudget();
    }

    private Behavior<Command> onRouteWaitOver(RouteWaitOver over) {
        if (plan != null && !broken()) return this;
        for (Iterator<Sequence> it = queue.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (s.id == over.seqId()) {
                it.remove();
                s.replyTo.tell(new Rejected(s.id, GenerationRejected.Code.UNAVAILABLE, plan == null
                        ? "model " + model.model() + " has no pipeline yet (waiting for workers); retry later"
                        : "model " + model.model() + " lost a pipeline stage and no route was rebuilt in "
                                + settings.routeRebuildDeadline() + " (no worker with room for its layers); retry later"));
            }
        }
        publishLoad();
        return this;
    }

    private Behavior<Command> onCancel(Cancel cancel) {
        for (Iterator<Sequence> it = queue.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (s.id == cancel.seqId()) {
                it.remove();
                timers.cancel(routeWaitKey(s.id));
                s.replyTo.tell(new Finished(s.id, FinishReason.CANCELLED, 0, s.proposerName, 0, 0, 0));
                return this;
            }
        }
        Sequence s = active.get(cancel.seqId());
        if (s == null) return this;
        if (s.inFlight) {
            s.cancelled = true; // finished when its step returns, so the release follows the step on every stage
        } else {
            List<Sequence> done = new ArrayList<>();
            finish(s, FinishReason.CANCELLED, done);
            release(done);
            launchSteps();
        }
        return this;
    }

    private Behavior<Command> onPlan(PlanUpdated updated) {
        PipelinePlan update = updated.plan();
        if (!update.model().equals(model.model())) return this;
        if (plan != null && plan.version() >= update.version()) return this;
        getContext().getLog().info("scheduler of {} uses plan v{} ({} stages)", model.model(), update.version(),
                update.stages().size());
        plan = update;
        abandonStepsOnDeadNodes();
        for (ActorRef<StageActor.Command> stage : plan.route()) {
            if (watchedStages.add(stage)) getContext().watchWith(stage, new StageLost(stage));
        }
        if (broken()) {
            readiness.accept(false);
        } else {
            readiness.accept(true);
            if (brokenSince != 0) {
                timers.cancel(RebuildDeadline.INSTANCE);
                recoveringSince = brokenSince; // measured until the first token on the new route
                brokenSince = 0;
            }
            for (Sequence s : queue) timers.cancel(routeWaitKey(s.id));
        }
        launchSteps();
        forgetUnusedLostStages();
        reportAdoption();
        return this;
    }

    /**
     * A lost stage matters only while the plan, a sequence's route or a step in flight still names it; the
     * rest are forgotten, so that the set does not grow with every failover over a long uptime.
     */
    private void forgetUnusedLostStages() {
        if (lostStages.isEmpty()) return;
        Set<ActorRef<StageActor.Command>> named = new HashSet<>(plan.route());
        for (Sequence s : active.values()) if (s.route != null) named.addAll(s.route.route());
        for (Step step : inFlight.values()) named.addAll(step.plan().route());
        lostStages.retainAll(named);
    }

    /**
     * Placement may publish the rebuilt route before this node's death watch reports the lost stages; steps
     * in flight through a node that is no longer an up, reachable member are lost then already.
     */
    private void abandonStepsOnDeadNodes() {
        var state = Cluster.get(getContext().getSystem()).state();
        Set<Address> alive = new HashSet<>();
        state.getMembers().forEach(m -> {
            if (m.status() == MemberStatus.up() || m.status() == MemberStatus.leaving()) alive.add(m.address());
        });
        state.getUnreachable().forEach(m -> alive.remove(m.address()));
        Set<ActorRef<StageActor.Command>> dead = new HashSet<>();
        for (Step step : inFlight.values()) {
            for (ActorRef<StageActor.Command> stage : step.plan().route()) {
                Address address = stage.path().address();
                if (address.hasGlobalScope() && !alive.contains(address)) dead.add(stage);
            }
        }
        for (ActorRef<StageActor.Command> stage : dead) getContext().getSelf().tell(new StageLost(stage));
    }

    /** The plan's route runs through a stage that stopped. */
    private boolean broken() {
        return plan != null && plan.route().stream().anyMatch(lostStages::contains);
    }

    /**
     * A stage stopped. Steps in flight through it are lost: their sequences are replayed from their token
     * history once a route without it exists. If the current route runs through it, new steps wait for a new
     * plan until {@code route-rebuild-deadline}.
     */
    private Behavior<Command> onStageLost(StageLost lost) {
        lostStages.add(lost.stage());
        watchedStages.remove(lost.stage());
        List<Sequence> finished = new ArrayList<>();
        int replays = 0;
        // Clients stalled from the first lost step on, which is before anyone noticed the loss: recovery is
        // measured from there (detection, reassignment and replay all included).
        long stalledSince = System.nanoTime();
        for (Iterator<Map.Entry<Long, Step>> it = inFlight.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Step> e = it.next();
            if (!e.getValue().plan().route().contains(lost.stage())) continue;
            stalledSince = Math.min(stalledSince, e.getValue().sentAt());
            it.remove();
            timers.cancel(stepKey(e.getKey()));
            for (Sequence s : e.getValue().sequences()) {
                s.inFlight = false;
                if (s.cancelled) {
                    finish(s, FinishReason.CANCELLED, finished);
                } else {
                    s.restartPrefill();
                    replays++;
                }
            }
        }
        if (broken() && brokenSince == 0) {
            brokenSince = stalledSince;
            readiness.accept(false);
            timers.startSingleTimer(RebuildDeadline.INSTANCE, RebuildDeadline.INSTANCE, settings.routeRebuildDeadline());
            // While this node shuts down, its workers' stages stop as the cluster comes apart: expected, not a warning.
            boolean shuttingDown = akka.actor.CoordinatedShutdown.get(getContext().getSystem()).getShutdownReason().isPresent();
            String message = "a stage of {}'s route stopped ({}); {} sequence(s) in flight wait up to {} for a new route";
            Object[] args = {model.model(), lost.stage().path(), active.size(), settings.routeRebuildDeadline()};
            if (shuttingDown) getContext().getLog().debug(message, args);
            else getContext().getLog().warn(message, args);
        }
        if (replays > 0) {
            metrics.replayed(model.model(), "failover", replays);
            // With the route already rebuilt, recovery ends with the first token of a replayed step.
            if (!broken() && recoveringSince == 0) recoveringSince = stalledSince;
        }
        release(finished);
        launchSteps();
        reportAdoption();
        return this;
    }

    private Behavior<Command> onRebuildDeadline(RebuildDeadline deadline) {
        if (!broken()) return this;
        String reason = "model " + model.model() + " lost a pipeline stage and no route was rebuilt within "
                + settings.routeRebuildDeadline() + " (no worker with room for its layers); retry later";
        getContext().getLog().warn("{}: failing {} active and {} queued sequence(s)", reason, active.size(), queue.size());
        List<Sequence> finished = new ArrayList<>();
        for (Sequence s : List.copyOf(active.values())) {
            if (!s.inFlight) fail(s, GenerationRejected.Code.UNAVAILABLE, reason, finished);
        }
        for (Sequence s : queue) {
            timers.cancel(routeWaitKey(s.id));
            s.replyTo.tell(new Rejected(s.id, GenerationRejected.Code.UNAVAILABLE, reason));
        }
        queue.clear();
        release(finished);
        publishLoad();
        return this;
    }

    /** Tells placement that this scheduler runs the current plan and has no step left on an older route. */
    private void reportAdoption() {
        if (plan == null || adoptedVersion >= plan.version() || broken()) return;
        for (Step step : inFlight.values()) {
            if (step.plan().version() < plan.version()) return;
        }
        adoptedVersion = plan.version();
        placement.tell(new PlacementManager.PlanAdopted(model.model(), plan.version(), planReceiver));
    }

    private Behavior<Command> onStepDone(StepDone done) {
        StageActor.StepReply reply = done.reply();
        Step taken = inFlight.remove(reply.stepId());
        if (taken == null) return this; // timed out or lost already
        List<Sequence> step = taken.sequences();
        timers.cancel(stepKey(reply.stepId()));
        if (recoveringSince != 0 && reply instanceof StageActor.StepVerified && plan != null
                && taken.plan().version() == plan.version() && taken.sentAt() >= recoveringSince) {
            double ms = (System.nanoTime() - recoveringSince) / 1e6;
            recoveringSince = 0;
            metrics.recovered(model.model(), ms);
            getContext().getLog().info("{} recovered from a lost stage in {} ms (first token on route v{})",
                    model.model(), String.format("%.0f", ms), plan.version());
        }
        List<Sequence> finished = new ArrayList<>();
        switch (reply) {
            case StageActor.StepVerified verified -> {
                long roundTrip = System.nanoTime() - taken.sentAt();
                metrics.stepRoundTrip(model.model(), roundTrip / 1e6);
                if (taken.decodeOnly()) proposers.costs().recordForward(taken.rows(), roundTrip);
                Map<Long, Integer> outputAt = new HashMap<>();
                int[] offsets = new int[verified.seqIds().length + 1];
                for (int i = 0; i < verified.seqIds().length; i++) {
                    outputAt.put(verified.seqIds()[i], i);
                    offsets[i + 1] = offsets[i] + verified.counts()[i];
                }
                for (Sequence s : step) {
                    s.inFlight = false;
                    Integer at = outputAt.get(s.id);
                    if (s.cancelled) {
                        finish(s, FinishReason.CANCELLED, finished);
                    } else if (s.needsPrefill && s.prefilled + s.chunkRows < s.length()) {
                        // A prefill chunk before the last: its KV is in place, nothing sampled yet.
                        if (at != null) {
                            fail(s, GenerationRejected.Code.INTERNAL, "the pipeline sampled a token in the middle of a prefill", finished);
                        } else {
                            s.prefilled += s.chunkRows;
                        }
                    } else if (at == null || verified.counts()[at] < 1 || verified.counts()[at] > s.drafted + 1
                            || offsets[at + 1] > verified.tokens().length) {
                        fail(s, GenerationRejected.Code.INTERNAL, "the pipeline returned no valid output for the sequence", finished);
                    } else {
                        s.steps++;
                        acceptAll(s, verified.tokens(), offsets[at], verified.counts()[at], finished);
                    }
                }
            }
            case StageActor.StepFailed failed -> {
                getContext().getLog().warn("step {} of {} failed at {}: {}", failed.stepId(), model.model(),
                        failed.stage(), failed.reason());
                GenerationRejected.Code code = failed.resourceExhausted()
                        ? GenerationRejected.Code.RESOURCE_EXHAUSTED : GenerationRejected.Code.INTERNAL;
                for (Sequence s : step) {
                    s.inFlight = false;
                    fail(s, code, "the pipeline failed: " + failed.reason(), finished);
                }
            }
        }
        release(finished);
        launchSteps();
        reportAdoption();
        return this;
    }

    private Behavior<Command> onStepTimedOut(StepTimedOut timeout) {
        Step taken = inFlight.remove(timeout.stepId());
        if (taken == null) return this;
        List<Sequence> step = taken.sequences();
        getContext().getLog().warn("step {} of {} got no answer in {}", timeout.stepId(), model.model(), settings.stepTimeout());
        List<Sequence> finished = new ArrayList<>();
        for (Sequence s : step) {
            s.inFlight = false;
            fail(s, GenerationRejected.Code.UNAVAILABLE, "a pipeline stage did not answer in " + settings.stepTimeout(), finished);
        }
        release(finished);
        launchSteps();
        reportAdoption();
        return this;
    }

    /**
     * One verified step of a sequence: {@code count} output tokens (its accepted drafts, then the target's own)
     * are appended one by one, so an end-of-sequence token among them ends it there.
     */
    private void acceptAll(Sequence s, int[] tokens, int from, int count, List<Sequence> finished) {
        int acceptedDrafts = count - 1;
        s.proposed += s.drafted;
        s.accepted += acceptedDrafts;
        if (acceptedDrafts < s.drafted) s.rejected++;
        if (s.drafted > 0) {
            s.controller.record(s.drafted, acceptedDrafts);
            proposers.costs().recordAcceptance(s.proposer.name(), s.drafted, acceptedDrafts);
        }
        if (!s.needsPrefill) { // decoding steps only: a prefill outputs its one token whatever the proposer
            long[] log = speculationLog.computeIfAbsent(s.proposer.name(), k -> new long[4]);
            log[0]++;
            log[1] += s.drafted;
            log[2] += acceptedDrafts;
            log[3] += count;
            metrics.speculation(model.model(), s.proposer.name(), s.drafted, acceptedDrafts, count);
        }
        for (int i = 0; i < count; i++) {
            if (!accept(s, tokens[from + i], finished)) return;
        }
        s.proposer.observe(s.history, acceptedDrafts, count);
    }

    /**
     * Appends an output token and ends the sequence at EOS/BOS (llama2.c models end stories with BOS) or its
     * budget; false when the sequence ended.
     */
    private boolean accept(Sequence s, int token, List<Sequence> finished) {
        s.history.append(token);
        s.generated++;
        s.needsPrefill = false;
        s.prefilled = 0;
        s.replyTo.tell(new Token(s.id, token, Math.max(0, s.steps - 1), s.proposer.name(), s.proposed, s.accepted, s.rejected));
        if (token == model.eosId() || token == model.bosId()) {
            finish(s, FinishReason.EOS, finished);
            return false;
        } else if (s.generated >= s.budget) {
            finish(s, FinishReason.LENGTH, finished);
            return false;
        }
        return true;
    }

    private void finish(Sequence s, FinishReason reason, List<Sequence> finished) {
        end(s, finished);
        s.replyTo.tell(new Finished(s.id, reason, Math.max(0, s.steps - 1), s.proposer == null ? s.proposerName : s.proposer.name(),
                s.proposed, s.accepted, s.rejected));
    }

    private void fail(Sequence s, GenerationRejected.Code code, String message, List<Sequence> finished) {
        end(s, finished);
        s.replyTo.tell(new Rejected(s.id, code, message));
    }

    private void end(Sequence s, List<Sequence> finished) {
        active.remove(s.id);
        kvTokensReserved -= s.kvTokens;
        finished.add(s);
        if (s.proposer != null) s.proposer.close();
    }

    /** Frees the KV caches of finished sequences on every stage of their routes, one message per stage. */
    private void release(List<Sequence> finished) {
        Map<ActorRef<StageActor.Command>, List<Long>> byStage = new LinkedHashMap<>();
        for (Sequence s : finished) {
            if (s.route == null) continue;
            for (ActorRef<StageActor.Command> stage : s.route.route()) {
                byStage.computeIfAbsent(stage, k -> new ArrayList<>()).add(s.id);
            }
        }
        byStage.forEach((stage, ids) -> transport.tell(stage, new StageActor.Release(ids.stream().mapToLong(Long::longValue).toArray())));
    }

    /** Admits waiting sequences, then fills the free in-flight slots with micro-batches of ready sequences. */
    private void launchSteps() {
        publishLoad();
        if (plan == null || broken()) return;
        while (!queue.isEmpty() && active.size() < settings.maxBatchSequences()
                && kvTokensReserved + queue.peekFirst().kvTokens <= settings.kvTokenBudget()) {
            Sequence s = queue.pollFirst();
            s.route = plan;
            kvTokensReserved += s.kvTokens;
            active.put(s.id, s);
            try {
                s.proposer = proposers.open(s.proposerName, s.id, s.sampling, s.history.toArray(), s.trafficClass);
            } catch (RuntimeException e) {
                getContext().getLog().warn("cannot open proposer {} for sequence {}: {}", s.proposerName, s.id, e.toString());
                List<Sequence> failed = new ArrayList<>();
                fail(s, GenerationRejected.Code.INTERNAL, "the " + s.proposerName + " proposer could not start: " + e.getMessage(), failed);
            }
        }
        reroute();
        int slots = settings.maxInFlightSteps() > 0 ? settings.maxInFlightSteps() : plan.stages().size();
        int perStep = Math.min(settings.maxBatchSequences(), Math.max(1, (active.size() + slots - 1) / slots));
        while (inFlight.size() < slots) {
            List<Sequence> step = new ArrayList<>();
            int rows = 0;
            for (Sequence s : active.values()) {
                if (s.inFlight) continue;
                int sRows = s.nextRows(settings.prefillChunkRows()); // drafts are added within the row limit when sent
                if (!step.isEmpty() && rows + sRows > settings.maxStepRows()) continue;
                step.add(s);
                rows += sRows;
                if (step.size() == perStep) break;
            }
            if (step.isEmpty()) return;
            send(step);
        }
    }

    /**
     * The switch at a step boundary: a sequence (not in a step) whose KV lives on a route other than the current
     * plan's moves to it. Stages it leaves free its KV; its next step replays its token history through the new
     * route (stages it keeps overwrite its KV from position 0, so no release may race that step).
     */
    private void reroute() {
        Map<ActorRef<StageActor.Command>, List<Long>> leaving = new LinkedHashMap<>();
        int replays = 0;
        for (Sequence s : active.values()) {
            if (s.inFlight || s.route.route().equals(plan.route())) {
                if (!s.inFlight) s.route = plan; // same stages, newer version
                continue;
            }
            for (ActorRef<StageActor.Command> stage : s.route.route()) {
                if (!plan.route().contains(stage) && !lostStages.contains(stage)) {
                    leaving.computeIfAbsent(stage, k -> new ArrayList<>()).add(s.id);
                }
            }
            if (!s.needsPrefill) replays++;
            s.restartPrefill();
            s.route = plan;
        }
        leaving.forEach((stage, ids) -> transport.tell(stage, new StageActor.Release(ids.stream().mapToLong(Long::longValue).toArray())));
        if (replays > 0) metrics.replayed(model.model(), "rebalance", replays);
    }

    private void publishLoad() {
        metrics.load(model.model(), queue.size(), active.size());
    }

    /**
     * Sends one micro-batch: a sequence that needs a prefill contributes its whole history (the last row
     * samples); a decoding one its last token and then its drafts, each row asking for logits so the last stage
     * can verify them all in this one pass.
     */
    private void send(List<Sequence> step) {
        int rows = 0;
        boolean decodeOnly = true;
        for (Sequence s : step) {
            s.chunkRows = s.needsPrefill ? s.nextRows(settings.prefillChunkRows()) : 0;
            rows += s.needsPrefill ? s.chunkRows : 1;
            decodeOnly &= !s.needsPrefill;
        }
        List<StageActor.SequenceDraft> drafts = new ArrayList<>();
        int probabilityBudget = proposers.settings().maxDraftProbabilityEntries();
        for (Sequence s : step) {
            s.drafted = 0;
            if (s.needsPrefill) continue;
            int k = Math.min(s.budget - s.generated - 1, settings.maxStepRows() - rows);
            k = Math.min(k, s.controller.choose(proposers.costs(), s.proposer.name(), step.size()));
            if (k <= 0) continue;
            s.draft.clear();
            long started = System.nanoTime();
            try {
                s.proposer.propose(s.history, k, !s.sampling.isGreedy(), s.draft);
            } catch (RuntimeException e) {
                // A proposer's fault costs this step its drafts, never the sequence: the target decides alone.
                getContext().getLog().warn("proposer {} failed for sequence {}: {}", s.proposer.name(), s.id, e.toString());
                continue;
            }
            proposers.costs().recordProposal(s.proposer.name(), s.proposer, s.draft.count(), System.nanoTime() - started);
            if (s.draft.count() == 0 || s.draft.count() > k) continue;
            int entries = StageActor.SequenceDraft.probabilityEntries(s.draft);
            if (entries > probabilityBudget) continue; // fewer drafts never change the output
            probabilityBudget -= entries;
            drafts.add(StageActor.SequenceDraft.of(s.id, s.draft));
            s.drafted = s.draft.count();
            rows += s.drafted;
        }
        long stepId = nextStepId++;
        long[] seqIds = new long[rows];
        int[] positions = new int[rows];
        int[] tokens = new int[rows];
        int[] flags = new int[rows];
        List<StageActor.SequenceSampling> starting = new ArrayList<>();
        int r = 0;
        for (Sequence s : step) {
            s.inFlight = true;
            int length = s.length();
            int[] h = s.history.array();
            if (s.needsPrefill) {
                // The history (the prompt, or on a new route prompt + generated tokens), chunk by chunk; the first
                // chunk brings the sampler to the last stage, the history's last row samples.
                if (s.prefilled == 0) {
                    starting.add(new StageActor.SequenceSampling(s.id, s.sampling, s.trafficClass, s.history.toArray()));
                }
                int end = s.prefilled + s.chunkRows;
                for (int p = s.prefilled; p < end; p++, r++) {
                    seqIds[r] = s.id;
                    positions[r] = p;
                    tokens[r] = h[p];
                    flags[r] = p == length - 1 ? RowFlags.WANT_LOGITS | RowFlags.PREFILL : RowFlags.PREFILL;
                }
            } else {
                seqIds[r] = s.id;
                positions[r] = length - 1;
                tokens[r] = h[length - 1];
                flags[r] = RowFlags.WANT_LOGITS;
                r++;
                for (int j = 0; j < s.drafted; j++, r++) {
                    seqIds[r] = s.id;
                    positions[r] = length + j;
                    tokens[r] = s.draft.token(j);
                    flags[r] = RowFlags.WANT_LOGITS | RowFlags.DRAFT;
                }
            }
        }
        inFlight.put(stepId, new Step(step, plan, System.nanoTime(), rows, decodeOnly));
        metrics.batch(model.model(), step.size());
        timers.startSingleTimer(stepKey(stepId), new StepTimedOut(stepId), settings.stepTimeout());
        List<ActorRef<StageActor.Command>> route = plan.route();
        transport.tell(route.getFirst(), new StageActor.ForwardTokens(stepId, model.model(), seqIds, positions, tokens, flags,
                starting, drafts, route, stepReceiver));
    }

    private static String stepKey(long stepId) { return "step-" + stepId; }

    private static String routeWaitKey(long seqId) { return "route-wait-" + seqId; }
}
