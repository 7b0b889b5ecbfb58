package dev.tandem.coordinator.placement;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.RowFlags;
import dev.tandem.protocol.transport.DirectTransport;
import dev.tandem.worker.StageActor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Greedy decoding steps of a few made-up sequences through a new route before a rebalance switches traffic to it,
 * as a scheduler sends them (over the direct transport, each stage checking the route and passing hidden states on,
 * the last one verifying). A stage on a worker JVM that has served nothing yet has its kernels compiled
 * ({@link StageActor.WarmUp}) but not its step path (transport, Kryo and Arrow codecs, the stage actor's handling),
 * which the JIT compiles only after thousands of steps: after a join moved a range onto a fresh worker, the first
 * request decoded at 116 tok/s (795 ms to its first token) against 324 (405 ms) on a warm cluster, and the
 * requests of the next few seconds at 260-370 against ~450. The first steps also wait for the direct transport's
 * connections to the new node (1.5-4 s on a loopback cluster). The sequences are of the traffic class
 * {@link DraftModel#UNRECORDED_CLASS} (never recorded for distillation), restart before they reach
 * {@link #MAX_POSITION}, and are released on every stage of the route at the end. Replies {@link Finished} once,
 * after {@code steps} steps or {@code maxDuration}, or at the first failed or unanswered step (the change goes on:
 * serving would meet the same stage anyway).
 */
public final class RouteWarmUp extends AbstractBehavior<RouteWarmUp.Command> {

    /** Prompt rows of a made-up sequence (its first step is a prefill of them). */
    static final int PROMPT_ROWS = 8;
    /** A sequence is released and a new one started before its next position would reach this (any model's context). */
    static final int MAX_POSITION = 64;
    /** Every prompt token: an id every vocabulary has (the llama2.c BOS). */
    private static final int PROMPT_TOKEN = 1;

    public sealed interface Command {}

    private record Replied(StageActor.StepReply reply) implements Command {}

    private record StepTimedOut(long stepId) implements Command {}

    private record DeadlinePassed() implements Command {}

    /** @param error empty when every step was answered */
    public record Finished(String model, int steps, long millis, String error) {
        public boolean ok() { return error.isEmpty(); }
    }

    /**
     * @param steps       steps to run (each one row per sequence, a prefill when a sequence starts)
     * @param maxDuration the warm-up ends after this long even if fewer steps ran
     */
    public static Behavior<Command> create(String model, List<ActorRef<StageActor.Command>> route, int steps,
                                           Duration maxDuration, int sequences, Duration stepTimeout, ActorRef<Finished> replyTo) {
        if (route.isEmpty()) throw new IllegalArgumentException("a route warm-up needs a route");
        if (sequences < 1) throw new IllegalArgumentException("a route warm-up needs at least one sequence, got " + sequences);
        return Behaviors.setup(context -> Behaviors.withTimers(timers ->
                new RouteWarmUp(context, timers, model, List.copyOf(route), steps, maxDuration, sequences, stepTimeout, replyTo)));
    }

    private final TimerScheduler<Command> timers;
    private final String model;
    private final int targetSteps;
    private final List<ActorRef<StageActor.Command>> route;
    private final Duration stepTimeout;
    private final ActorRef<Finished> replyTo;
    private final DirectTransport transport;
    private final ActorRef<StageActor.StepReply> replies;
    private final long started = System.nanoTime();
    /** The made-up sequences: id, and the last token and its position (-1 before the prefill). */
    private final long[] ids;
    private final int[] lastToken;
    private final int[] lastPosition;
    private long stepId;
    private int steps;
    private boolean deadlinePassed;
    private boolean finished;

    private RouteWarmUp(ActorContext<Command> context, TimerScheduler<Command> timers, String model,
                        List<ActorRef<StageActor.Command>> route, int steps, Duration maxDuration, int sequences,
                        Duration stepTimeout, ActorRef<Finished> replyTo) {
        super(context);
        this.timers = timers;
        this.model = model;
        this.targetSteps = steps;
        this.route = route;
        this.stepTimeout = stepTimeout;
        this.replyTo = replyTo;
        this.transport = DirectTransport.get(context.getSystem());
        this.replies = context.messageAdapter(StageActor.StepReply.class, Replied::new);
        this.ids = new long[sequences];
        this.lastToken = new int[sequences];
        this.lastPosition = new int[sequences];
        for (int i = 0; i < sequences; i++) restart(i);
        timers.startSingleTimer(new DeadlinePassed(), maxDuration);
        sendStep();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Replied.class, this::onReplied)
                .onMessage(StepTimedOut.class, t -> t.stepId() == stepId ? finish("step " + t.stepId() + " got no answer within " + stepTimeout) : this)
                .onMessage(DeadlinePassed.class, d -> {
                    deadlinePassed = true;
                    return this;
                })
                .onSignal(PostStop.class, stop -> {
                    if (!finished) release(ids.clone()); // stopped with its parent (a failed change)
                    return this;
                })
                .build();
    }

    private void restart(int i) {
        ids[i] = ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE; // as a session's ids, never one in use
        lastToken[i] = PROMPT_TOKEN;
        lastPosition[i] = -1;
    }

    /** One step: a prefill row run for each new sequence, one decoding row for each other. */
    private void sendStep() {
        int rows = 0;
        for (int p : lastPosition) rows += p < 0 ? PROMPT_ROWS : 1;
        long[] seqIds = new long[rows];
        int[] positions = new int[rows];
        int[] tokens = new int[rows];
        int[] flags = new int[rows];
        List<StageActor.SequenceSampling> starting = new ArrayList<>();
        int r = 0;
        for (int i = 0; i < ids.length; i++) {
            if (lastPosition[i] < 0) {
                int[] prompt = new int[PROMPT_ROWS];
                Arrays.fill(prompt, PROMPT_TOKEN);
                starting.add(new StageActor.SequenceSampling(ids[i], SamplerSettings.greedy(), DraftModel.UNRECORDED_CLASS, prompt));
                for (int p = 0; p < PROMPT_ROWS; p++, r++) {
                    seqIds[r] = ids[i];
                    positions[r] = p;
                    tokens[r] = PROMPT_TOKEN;
                    flags[r] = p == PROMPT_ROWS - 1 ? RowFlags.WANT_LOGITS | RowFlags.PREFILL : RowFlags.PREFILL;
                }
                lastPosition[i] = PROMPT_ROWS - 1;
            } else {
                seqIds[r] = ids[i];
                positions[r] = lastPosition[i];
                tokens[r] = lastToken[i];
                flags[r] = RowFlags.WANT_LOGITS;
                r++;
            }
        }
        stepId++;
        timers.startSingleTimer(new StepTimedOut(stepId), stepTimeout);
        transport.tell(route.getFirst(), new StageActor.ForwardTokens(stepId, model, seqIds, positions, tokens, flags,
                starting, List.of(), route, replies));
    }

    private Behavior<Command> onReplied(Replied replied) {
        StageActor.StepReply reply = replied.reply();
        if (reply.stepId() != stepId) return this; // a late answer to a step already given up on
        timers.cancel(new StepTimedOut(stepId));
        if (reply instanceof StageActor.StepFailed failed) return finish("step failed on " + failed.stage() + ": " + failed.reason());
        StageActor.StepVerified verified = (StageActor.StepVerified) reply;
        steps++;
        List<Long> released = new ArrayList<>();
        for (int s = 0, t = 0; s < verified.seqIds().length; t += verified.counts()[s], s++) {
            int i = indexOf(verified.seqIds()[s]);
            if (i < 0 || verified.counts()[s] == 0) continue;
            lastToken[i] = verified.tokens()[t + verified.counts()[s] - 1];
            lastPosition[i] += verified.counts()[s];
            if (lastPosition[i] + 1 >= MAX_POSITION) {
                released.add(ids[i]);
                restart(i);
            }
        }
        if (!released.isEmpty()) release(released.stream().mapToLong(Long::longValue).toArray());
        if (deadlinePassed || steps >= targetSteps) return finish("");
        sendStep();
        return this;
    }

    private int indexOf(long seqId) {
        for (int i = 0; i < ids.length; i++) if (ids[i] == seqId) return i;
        return -1;
    }

    private void release(long[] seqIds) {
        for (ActorRef<StageActor.Command> stage : route) transport.tell(stage, new StageActor.Release(seqIds));
    }

    private Behavior<Command> finish(String error) {
        finished = true;
        release(ids.clone());
        replyTo.tell(new Finished(model, steps, (System.nanoTime() - started) / 1_000_000, error));
        return Behaviors.stopped();
    }
}
