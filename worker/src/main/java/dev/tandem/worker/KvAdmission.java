package dev.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.BehaviorInterceptor;
import akka.actor.typed.PostStop;
import akka.actor.typed.Signal;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.javadsl.Behaviors;
import dev.tandem.engine.llama.KvCache;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The worker's KV memory check, in front of each {@link StageActor} (a {@link BehaviorInterceptor} the worker node
 * wraps around the stage): every forward step is admitted only if the KV pages it adds fit the worker's
 * {@link Budget}, shared by all its stages; otherwise the step never reaches the stage and its {@code replyTo} gets
 * a {@link StageActor.StepFailed} that says so, instead of the stage growing its cache until the heap runs out.
 *
 * <p>The interceptor keeps its own account of each sequence's cached positions from the messages it lets through,
 * as the stage's {@link KvCache} does: a run of rows writing from position p keeps the sequence's positions below p
 * and sets its length to the run's end; {@link StageActor.Release} frees it. Counted in whole pages of
 * {@link KvCache#PAGE_POSITIONS}. Whatever the stage does not write (a step it refuses, positions truncated after
 * rejected drafts) stays counted until the sequence is rewritten or released, so the account never under-counts.
 */
final class KvAdmission extends BehaviorInterceptor<StageActor.Command, StageActor.Command> {

    /** KV bytes all stages of one worker may hold together; thread-safe (stages run on several threads). */
    static final class Budget {
        private final long limitBytes;
        private final AtomicLong usedBytes = new AtomicLong();

        Budget(long limitBytes) {
            this.limitBytes = limitBytes;
        }

        long limitBytes() { return limitBytes; }

        long usedBytes() { return usedBytes.get(); }

        /** Takes {@code bytes} if they fit. */
        boolean tryTake(long bytes) {
            while (true) {
                long used = usedBytes.get();
                if (used + bytes > limitBytes) return false;
                if (usedBytes.compareAndSet(used, used + bytes)) return true;
            }
        }

        void give(long bytes) {
            usedBytes.addAndGet(-bytes);
        }
    }

    /** Wraps a stage's behavior with the check against {@code budget}; {@code pageBytes} is one KV page of the stage. */
    static Behavior<StageActor.Command> wrap(Behavior<StageActor.Command> stage, Budget budget, long pageBytes, String description) {
        return Behaviors.intercept(() -> new KvAdmission(budget, pageBytes, description), stage);
    }

    private final Budget budget;
    private final long pageBytes;
    private final String description;
    /** Cached positions per sequence, as the stage's cache holds them after the steps let through. */
    private final Map<Long, Integer> lengths = new HashMap<>();
    private long pagesHeld;

    private KvAdmission(Budget budget, long pageBytes, String description) {
        super(StageActor.Command.class);
        this.budget = budget;
        this.pageBytes = pageBytes;
        this.description = description;
    }

    @Override
    public Behavior<StageActor.Command> aroundReceive(TypedActorContext<StageActor.Command> ctx, StageActor.Command msg,
                                                      ReceiveTarget<StageActor.Command> target) {
        switch (msg) {
            case StageActor.ForwardTokens step -> {
                if (!admit(step.stepId(), step.seqIds(), step.positions(), step.replyTo())) return Behaviors.same();
            }
            case StageActor.ForwardHidden step -> {
                if (!admit(step.batch().stepId(), step.batch().seqIds(), step.batch().positions(), step.replyTo())) {
                    return Behaviors.same();
                }
            }
            case StageActor.Release release -> {
                for (long seqId : release.seqIds()) {
                    Integer length = lengths.remove(seqId);
                    if (length != null) giveBack(pages(length));
                }
            }
            default -> { }
        }
        return target.apply(ctx, msg);
    }

    /** A stage that stops (its range was dropped) gives its KV back to the worker's budget. */
    @Override
    public Behavior<StageActor.Command> aroundSignal(TypedActorContext<StageActor.Command> ctx, Signal signal,
                                                     SignalTarget<StageActor.Command> target) {
        if (signal instanceof PostStop && pagesHeld > 0) {
            giveBack(pagesHeld);
            lengths.clear();
        }
        return target.apply(ctx, signal);
    }

    @Override
    public boolean isSame(BehaviorInterceptor<Object, Object> other) {
        return (Object) other == this;
    }

    /** Takes the pages the step adds from the budget, or answers StepFailed and keeps the step from the stage. */
    private boolean admit(long stepId, long[] seqIds, int[] positions, ActorRef<StageActor.StepReply> replyTo) {
        int rows = Math.min(seqIds.length, positions.length);
        Map<Long, int[]> runs = new HashMap<>(); // seqId -> {first position, end}
        for (int r = 0; r < rows; r++) {
            int[] run = runs.get(seqIds[r]);
            if (run == null) runs.put(seqIds[r], new int[]{positions[r], positions[r] + 1});
            else run[1] = Math.max(run[1], positions[r] + 1);
        }
        long added = 0;
        Map<Long, Integer> next = new HashMap<>();
        for (Map.Entry<Long, int[]> e : runs.entrySet()) {
            int held = lengths.getOrDefault(e.getKey(), 0);
            int start = Math.max(0, Math.min(e.getValue()[0], held));
            int end = Math.max(start, e.getValue()[1]);
            added += pages(end) - pages(held);
            next.put(e.getKey(), end);
        }
        if (added > 0 && !budget.tryTake(added * pageBytes)) {
            String reason = "the worker's KV memory is full: stage " + description + " needs " + added * KvCache.PAGE_POSITIONS
                    + " more cached positions (" + mib(added * pageBytes) + "), " + mib(budget.limitBytes() - budget.usedBytes())
                    + " of its " + mib(budget.limitBytes()) + " KV budget (tandem.worker.kv-cache) are free; retry when sequences finish";
            replyTo.tell(new StageActor.StepFailed(stepId, description, reason, true));
            return false;
        }
        if (added < 0) giveBack(-added);
        else pagesHeld += added;
        lengths.putAll(next);
        return true;
    }

    private void giveBack(long pages) {
        pagesHeld -= pages;
        budget.give(pages * pageBytes);
    }

    private static long pages(int positions) {
        return (positions + KvCache.PAGE_POSITIONS - 1) / KvCache.PAGE_POSITIONS;
    }

    private static String mib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    /** Pages this stage holds by the account (for tests and the stage's end). */
    long pagesHeld() { return pagesHeld; }
}
