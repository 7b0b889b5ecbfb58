package dev.tandem.coordinator.scheduler;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.tandem.coordinator.CoordinatorSettings;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.placement.PipelinePlan;
import dev.tandem.coordinator.placement.PlacementManager;
import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.worker.StageActor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Continuous batching for one model on one coordinator. Sequences are admitted at step boundaries (up to
 * {@code max-batch-sequences} and the KV token budget; the rest wait in a bounded queue) and leave as soon as
 * they finish. Each step is a micro-batch of token rows into the first stage of the model's pipeline: a
 * newly admitted sequence contributes its whole prompt (prefill in one forward), a decoding one its last
 * token. Up to one micro-batch per stage is in flight, the active sequences split evenly between them, so
 * every stage has work while the others compute. The last stage replies with one sampled token per sequence.
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
    public record Submit(long seqId, int[] promptTokens, int maxNewTokens, SamplerSettings sampling,
                         ActorRef<SequenceEvent> replyTo) implements Command {}

    /** Ends a sequence early (its stream was cancelled or hit a stop string). */
    public record Cancel(long seqId) implements Command {}

    /** The current plan of this scheduler's model, if any. */
    public record GetPlan(ActorRef<Optional<PipelinePlan>> replyTo) implements Command {}

    private record PlanUpdated(PipelinePlan plan) implements Command {}

    private record StepDone(StageActor.StepReply reply) implements Command {}

    private record StepTimedOut(long stepId) implements Command {}

    private record RouteWaitOver(long seqId) implements Command {}

    private enum Resubscribe implements Command { INSTANCE }

    /** What a sequence's submitter hears. */
    public sealed interface SequenceEvent {
        long seqId();
    }

    /** A generated token (the EOS/BOS that ends a sequence included). */
    public record Token(long seqId, int token) implements SequenceEvent {}

    /** @param steps pipeline steps of the sequence after its prefill */
    public record Finished(long seqId, FinishReason reason, long steps) implements SequenceEvent {}

    public record Rejected(long seqId, GenerationRejected.Code code, String message) implements SequenceEvent {}

    /** What the scheduler needs of its model. */
    public record ModelLimits(String model, int contextLength, int bosId, int eosId) {}

    public static Behavior<Command> create(CoordinatorSettings settings, ModelLimits model,
                                           ActorRef<PlacementManager.Command> placement, Consumer<Boolean> readiness) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers ->
                new Scheduler(context, timers, settings, model, placement, readiness)));
    }

    /** A sequence's state; owned by the scheduler alone. */
    private static final class Sequence {
        final long id;
        final ActorRef<SequenceEvent> replyTo;
        final SamplerSettings sampling;
        final int[] tokens;
        final int promptLength;
        /** New tokens allowed: max-new-tokens, or what the context leaves (the last sampled token needs no forward). */
        final int budget;
        /** KV positions reserved against the token budget. */
        final int kvTokens;
        int length;
        int generated;
        long steps;
        boolean prefilled;
        boolean inFlight;
        boolean cancelled;
        PipelinePlan route;

        Sequence(Submit submit, int contextLength) {
            this.id = submit.seqId();
            this.replyTo = submit.replyTo();
            this.sampling = submit.sampling();
            this.promptLength = submit.promptTokens().length;
            this.budget = Math.min(submit.maxNewTokens(), contextLength - promptLength + 1);
            this.kvTokens = Math.min(promptLength + budget - 1, contextLength);
            this.tokens = new int[promptLength + budget];
            System.arraycopy(submit.promptTokens(), 0, tokens, 0, promptLength);
            this.length = promptLength;
        }
    }

    private final TimerScheduler<Command> timers;
    private final CoordinatorSettings settings;
    private final ModelLimits model;
    private final ActorRef<PlacementManager.Command> placement;
    private final Consumer<Boolean> readiness;
    private final ActorRef<PipelinePlan> planReceiver;
    private final ActorRef<StageActor.StepReply> stepReceiver;

    private final ArrayDeque<Sequence> queue = new ArrayDeque<>();
    private final Map<Long, Sequence> active = new LinkedHashMap<>();
    private final Map<Long, List<Sequence>> inFlight = new HashMap<>();
    private PipelinePlan plan;
    private int kvTokensReserved;
    private long nextStepId = 1;

    private Scheduler(ActorContext<Command> context, TimerScheduler<Command> timers, CoordinatorSettings settings,
                      ModelLimits model, ActorRef<PlacementManager.Command> placement, Consumer<Boolean> readiness) {
        super(context);
        this.timers = timers;
        this.settings = settings;
        this.model = model;
        this.placement = placement;
        this.readiness = readiness;
        this.planReceiver = context.messageAdapter(PipelinePlan.class, PlanUpdated::new);
        this.stepReceiver = context.messageAdapter(StageActor.StepReply.class, StepDone::new);
        placement.tell(new PlacementManager.SubscribePlans(planReceiver));
        timers.startTimerWithFixedDelay(Resubscribe.INSTANCE, Resubscribe.INSTANCE, settings.planRefresh());
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
                .onMessage(Resubscribe.class, r -> {
                    placement.tell(new PlacementManager.SubscribePlans(planReceiver));
                    return this;
                })
                .build();
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
        Sequence sequence = new Sequence(submit, model.contextLength());
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
        launchSteps();
        return this;
    }

    private boolean canAdmit(Sequence sequence) {
        return plan != null && queue.isEmpty() && active.size() < settings.maxBatchSequences()
                && kvTokensReserved + sequence.kvTokens <= settings.kvTokenBudget();
    }

    private Behavior<Command> onRouteWaitOver(RouteWaitOver over) {
        if (plan != null) return this;
        for (Iterator<Sequence> it = queue.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (s.id == over.seqId()) {
                it.remove();
                s.replyTo.tell(new Rejected(s.id, GenerationRejected.Code.UNAVAILABLE, "model " + model.model()
                        + " has no pipeline yet (waiting for workers); retry later"));
            }
        }
        return this;
    }

    private Behavior<Command> onCancel(Cancel cancel) {
        for (Iterator<Sequence> it = queue.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (s.id == cancel.seqId()) {
                it.remove();
                timers.cancel(routeWaitKey(s.id));
                s.replyTo.tell(new Finished(s.id, FinishReason.CANCELLED, 0));
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
        readiness.accept(true);
        for (Sequence s : queue) timers.cancel(routeWaitKey(s.id));
        launchSteps();
        return this;
    }

    private Behavior<Command> onStepDone(StepDone done) {
        StageActor.StepReply reply = done.reply();
        List<Sequence> step = inFlight.remove(reply.stepId());
        if (step == null) return this; // timed out already
        timers.cancel(stepKey(reply.stepId()));
        List<Sequence> finished = new ArrayList<>();
        switch (reply) {
            case StageActor.StepSampled sampled -> {
                Map<Long, Integer> tokens = new HashMap<>();
                for (int i = 0; i < sampled.seqIds().length; i++) tokens.put(sampled.seqIds()[i], sampled.tokens()[i]);
                for (Sequence s : step) {
                    s.inFlight = false;
                    s.steps++;
                    Integer token = tokens.get(s.id);
                    if (s.cancelled) {
                        finish(s, FinishReason.CANCELLED, finished);
                    } else if (token == null) {
                        fail(s, GenerationRejected.Code.INTERNAL, "the pipeline returned no token for the sequence", finished);
                    } else {
                        accept(s, token, finished);
                    }
                }
            }
            case StageActor.StepFailed failed -> {
                getContext().getLog().warn("step {} of {} failed at {}: {}", failed.stepId(), model.model(),
                        failed.stage(), failed.reason());
                for (Sequence s : step) {
                    s.inFlight = false;
                    fail(s, GenerationRejected.Code.INTERNAL, "the pipeline failed: " + failed.reason(), finished);
                }
            }
        }
        release(finished);
        launchSteps();
        return this;
    }

    private Behavior<Command> onStepTimedOut(StepTimedOut timeout) {
        List<Sequence> step = inFlight.remove(timeout.stepId());
        if (step == null) return this;
        getContext().getLog().warn("step {} of {} got no answer in {}", timeout.stepId(), model.model(), settings.stepTimeout());
        List<Sequence> finished = new ArrayList<>();
        for (Sequence s : step) {
            s.inFlight = false;
            fail(s, GenerationRejected.Code.UNAVAILABLE, "a pipeline stage did not answer in " + settings.stepTimeout(), finished);
        }
        release(finished);
        launchSteps();
        return this;
    }

    /** Appends a sampled token and ends the sequence at EOS/BOS (llama2.c models end stories with BOS) or its budget. */
    private void accept(Sequence s, int token, List<Sequence> finished) {
        s.tokens[s.length++] = token;
        s.generated++;
        s.prefilled = true;
        s.replyTo.tell(new Token(s.id, token));
        if (token == model.eosId() || token == model.bosId()) {
            finish(s, FinishReason.EOS, finished);
        } else if (s.generated >= s.budget) {
            finish(s, FinishReason.LENGTH, finished);
        }
    }

    private void finish(Sequence s, FinishReason reason, List<Sequence> finished) {
        active.remove(s.id);
        kvTokensReserved -= s.kvTokens;
        finished.add(s);
        s.replyTo.tell(new Finished(s.id, reason, Math.max(0, s.steps - 1)));
    }

    private void fail(Sequence s, GenerationRejected.Code code, String message, List<Sequence> finished) {
        active.remove(s.id);
        kvTokensReserved -= s.kvTokens;
        finished.add(s);
        s.replyTo.tell(new Rejected(s.id, code, message));
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
        byStage.forEach((stage, ids) -> stage.tell(new StageActor.Release(ids.stream().mapToLong(Long::longValue).toArray())));
    }

    /** Admits waiting sequences, then fills the free in-flight slots with micro-batches of ready sequences. */
    private void launchSteps() {
        if (plan == null) return;
        while (!queue.isEmpty() && active.size() < settings.maxBatchSequences()
                && kvTokensReserved + queue.peekFirst().kvTokens <= settings.kvTokenBudget()) {
            Sequence s = queue.pollFirst();
            s.route = plan;
            kvTokensReserved += s.kvTokens;
            active.put(s.id, s);
        }
        retireStaleRoutes();
        int slots = settings.maxInFlightSteps() > 0 ? settings.maxInFlightSteps() : plan.stages().size();
        int perStep = Math.min(settings.maxBatchSequences(), Math.max(1, (active.size() + slots - 1) / slots));
        while (inFlight.size() < slots) {
            List<Sequence> step = new ArrayList<>();
            int rows = 0;
            for (Sequence s : active.values()) {
                if (s.inFlight) continue;
                int sRows = s.prefilled ? 1 : s.promptLength;
                if (!step.isEmpty() && rows + sRows > settings.maxStepRows()) continue;
                step.add(s);
                rows += sRows;
                if (step.size() == perStep) break;
            }
            if (step.isEmpty()) return;
            send(step, rows);
        }
    }

    /** Sequences placed on an older plan cannot continue on the new stages (their KV is elsewhere). */
    private void retireStaleRoutes() {
        List<Sequence> finished = new ArrayList<>();
        for (Sequence s : List.copyOf(active.values())) {
            if (!s.inFlight && s.route.version() != plan.version()) {
                fail(s, GenerationRejected.Code.UNAVAILABLE, "the pipeline of " + model.model()
                        + " was re-planned during the request; retry", finished);
            }
        }
        release(finished);
    }

    private void send(List<Sequence> step, int rows) {
        long stepId = nextStepId++;
        long[] seqIds = new long[rows];
        int[] positions = new int[rows];
        int[] tokens = new int[rows];
        int[] flags = new int[rows];
        List<StageActor.SequenceSampling> starting = new ArrayList<>();
        int r = 0;
        for (Sequence s : step) {
            s.inFlight = true;
            if (!s.prefilled) {
                starting.add(new StageActor.SequenceSampling(s.id, s.sampling));
                for (int p = 0; p < s.promptLength; p++, r++) {
                    seqIds[r] = s.id;
                    positions[r] = p;
                    tokens[r] = s.tokens[p];
                    flags[r] = p == s.promptLength - 1 ? RowFlags.WANT_LOGITS | RowFlags.PREFILL : RowFlags.PREFILL;
                }
            } else {
                seqIds[r] = s.id;
                positions[r] = s.length - 1;
                tokens[r] = s.tokens[s.length - 1];
                flags[r] = RowFlags.WANT_LOGITS;
                r++;
            }
        }
        inFlight.put(stepId, step);
        timers.startSingleTimer(stepKey(stepId), new StepTimedOut(stepId), settings.stepTimeout());
        List<ActorRef<StageActor.Command>> route = plan.route();
        route.getFirst().tell(new StageActor.ForwardTokens(stepId, model.model(), seqIds, positions, tokens, flags,
                starting, route, stepReceiver));
    }

    private static String stepKey(long stepId) { return "step-" + stepId; }

    private static String routeWaitKey(long seqId) { return "route-wait-" + seqId; }
}
