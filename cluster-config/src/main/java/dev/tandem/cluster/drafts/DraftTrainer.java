package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.javadsl.Behaviors;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.idle.IdleGovernor;
import dev.tandem.trainer.idle.TrainingWorker;
import dev.tandem.trainer.online.OnlineTrainer;
import dev.tandem.trainer.online.TrainerWarmUp;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;

/**
 * The draft trainer of a worker node: an {@link OnlineTrainer} over the node's replay buffers, run by a
 * {@link TrainingWorker} (its own lowest-priority thread, never a serving thread) that asks an
 * {@link IdleGovernor} before every step and at every checkpoint inside a step. The governor sees this node's
 * serving load ({@link ServingActivity}: sequences on its last stages, step interval), so training stops within
 * one matrix product when requests arrive ({@link TrainingGate} can hold it too). A candidate is published to the node's {@link DraftRegistry} only
 * if its measured acceptance on held-out recent samples beats the live draft's; the registry tells the
 * {@link DraftReplicator}, which ships it to the coordinators.
 *
 * <p>The actor itself only starts and stops the worker and copies its counters to the node's metrics.
 */
public final class DraftTrainer {

    public static final String ACTOR_NAME = "tandem-draft-trainer";

    public sealed interface Command {}

    /** Asks for the trainer's counters. */
    public record GetStats(ActorRef<Stats> replyTo) implements Command {}

    /** The trainer's counters: steps (the warm-up's not counted), whether its warm-up is done, samples recorded, candidates evaluated and published. */
    public record Stats(long steps, boolean warmedUp, long recordedSamples, long droppedPositions, long replayBytes, long evaluated, long published,
                        long rolledBack, String failure) {}

    private enum Tick implements Command { INSTANCE }

    private record Evaluated(OnlineTrainer.Event event) implements Command {}

    private DraftTrainer() {}

    public static Behavior<Command> create(TrainerSettings trainerSettings, DraftsSettings settings, ReplayBuffers buffers,
                                           TrafficRecorder recorder, ServingActivity activity, DraftRegistry registry) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            OnlineTrainer trainer = new OnlineTrainer(trainerSettings, buffers, registry);
            ActorRef<Command> self = context.getSelf();
            trainer.onEvent(e -> self.tell(new Evaluated(e)));
            IdleGovernor governor = new IdleGovernor(trainerSettings.idle(), TrainingGate.of(context.getSystem()).signals(activity::signals));
            TrainerWarmUp warmUp = new TrainerWarmUp(trainerSettings, TrainerWarmUp.shapeOf(registry), settings.trainerWarmUpSteps(),
                    trainer.after(recorder));
            TrainingWorker worker = new TrainingWorker(governor, warmUp, trainerSettings.pollNanos(), settings.trainerThreads(),
                    trainerSettings.idleCpuClass()).start();
            DraftMetrics.Trainer metrics = new DraftMetrics.Trainer(context.getSystem());
            timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.metricsInterval());
            context.getLog().info("draft trainer started (sampling rate {}, replay {} bytes per class, divergence {})",
                    trainerSettings.samplingRate(), trainerSettings.replayBytesPerClass(), trainerSettings.distiller().divergence());
            long[] seen = new long[4]; // steps, recorded, dropped, busy nanos
            long[] outcomes = new long[3]; // evaluated, published, rolled back
            String[] failure = {""};
            boolean[] reportedWarmUp = {false};
            return Behaviors.receive(Command.class)
                    .onMessageEquals(Tick.INSTANCE, () -> {
                        long steps = worker.steps() - warmUp.steps();
                        metrics.warmedUp(warmUp.done());
                        if (warmUp.done() && !reportedWarmUp[0]) {
                            reportedWarmUp[0] = true;
                            if (warmUp.failure() != null) {
                                context.getLog().warn("the draft trainer's warm-up failed; it trains without it", warmUp.failure());
                            } else if (warmUp.steps() > 0) {
                                context.getLog().info("draft trainer warmed up: {} steps on a random draft and synthetic samples", warmUp.steps());
                            }
                        }
                        long recorded = recorder.recordedSamples();
                        long dropped = recorder.droppedPositions();
                        long busy = worker.busyNanos();
                        metrics.steps(steps - seen[0]);
                        metrics.recorded(recorded - seen[1]);
                        metrics.dropped(dropped - seen[2]);
                        metrics.busySeconds((busy - seen[3]) / 1e9);
                        seen[0] = steps;
                        seen[1] = recorded;
                        seen[2] = dropped;
                        seen[3] = busy;
                        metrics.loss(trainer.lastClass(), trainer.lastLoss());
                        for (String cls : buffers.classes()) metrics.replayBytes(cls, buffers.buffer(cls).bytes());
                        metrics.deferredSamples(recorder.deferredSamples());
                        if (worker.failure() != null && failure[0].isEmpty()) {
                            failure[0] = String.valueOf(worker.failure());
                            context.getLog().error("the draft trainer stopped after a failure; serving goes on without it", worker.failure());
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Evaluated.class, ev -> {
                        OnlineTrainer.Event e = ev.event();
                        boolean published = e.entry().status() == DraftVersion.Status.LIVE;
                        outcomes[0]++;
                        if (published) outcomes[1]++;
                        metrics.candidate(e.trafficClass(), published);
                        if (e.rolledBack()) {
                            outcomes[2]++;
                            metrics.rollback(e.trafficClass());
                        }
                        context.getLog().info("draft candidate {} v{}: {} (expected accepted {} vs live {}){}", e.trafficClass(),
                                e.entry().version(), published ? "published" : "rejected",
                                String.format(java.util.Locale.ROOT, "%.3f", e.comparison().candidate().expectedAccepted()),
                                String.format(java.util.Locale.ROOT, "%.3f", e.comparison().live().expectedAccepted()),
                                e.rolledBack() ? "; the live draft was rolled back" : "");
                        return Behaviors.same();
                    })
                    .onMessage(GetStats.class, q -> {
                        q.replyTo().tell(new Stats(worker.steps() - warmUp.steps(), warmUp.done(), recorder.recordedSamples(), recorder.droppedPositions(), buffers.bytes(),
                                outcomes[0], outcomes[1], outcomes[2], failure[0]));
                        return Behaviors.same();
                    })
                    .onSignal(PostStop.class, stop -> {
                        worker.close();
                        return Behaviors.same();
                    })
                    .build();
        }));
    }
}
