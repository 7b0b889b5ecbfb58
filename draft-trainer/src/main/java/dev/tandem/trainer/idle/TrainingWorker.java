package dev.tandem.trainer.idle;

import dev.tandem.engine.parallel.BackgroundScheduling;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.distill.TrainingParallelism;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The dedicated training thread: asks the {@link IdleGovernor} before every step of the
 * {@link TrainingTask}, so training never runs on a serving thread and stops within one step when load
 * arrives; polls while serving is busy or there is nothing to train. Inside a step, the
 * {@link TrainingCheckpoint}s of the forward and backward passes also wait while serving is busy, so in
 * practice training yields within one matrix product (milliseconds), and the step resumes where it was.
 */
public final class TrainingWorker implements AutoCloseable {

    public static final String THREAD_NAME = "tandem-draft-trainer";

    private final IdleGovernor governor;
    private final TrainingTask task;
    private final long pollNanos;
    private final int threads;
    private final boolean idleCpuClass;
    private final Thread thread;
    private final AtomicLong steps = new AtomicLong();
    private final AtomicLong busyNanos = new AtomicLong();
    private final AtomicLong pausedChecks = new AtomicLong();
    private volatile boolean running = true;
    /** Whether the training threads are in the OS's idle scheduling class (then a task may step without asking). */
    private volatile boolean idleClass;
    private volatile boolean paused;
    private volatile Throwable failure;

    public TrainingWorker(IdleGovernor governor, TrainingTask task, long pollNanos) {
        this(governor, task, pollNanos, 1, false);
    }

    /**
     * @param threads threads a step's dense products are split over (the training thread included), 0 for one per
     *                core: training runs only while serving leaves the node idle
     * @param idleCpuClass whether the training threads enter the OS's idle scheduling class
     *                ({@link BackgroundScheduling}), where the kernel preempts them the moment serving wakes
     */
    public TrainingWorker(IdleGovernor governor, TrainingTask task, long pollNanos, int threads, boolean idleCpuClass) {
        if (threads < 0) throw new IllegalArgumentException("training threads must be >= 0, got " + threads);
        this.governor = governor;
        this.task = task;
        this.pollNanos = pollNanos;
        this.threads = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
        this.idleCpuClass = idleCpuClass;
        this.thread = Thread.ofPlatform().name(THREAD_NAME).daemon(true).priority(Thread.MIN_PRIORITY).unstarted(this::loop);
    }

    public TrainingWorker start() {
        thread.start();
        return this;
    }

    /** Steps run so far. */
    public long steps() { return steps.get(); }

    /** Time spent in steps. */
    public long busyNanos() { return busyNanos.get(); }

    /** Stops taking steps (until {@link #resume}) regardless of the governor, e.g. for a measurement. */
    public void pause() { paused = true; }

    public void resume() { paused = false; }

    public Throwable failure() { return failure; }

    /** Waits, inside a step, until the governor allows training again (or the worker is closed). */
    private void pauseWhileServing() {
        while (running && (paused || !mayStep())) {
            pausedChecks.incrementAndGet();
            try {
                TimeUnit.NANOSECONDS.sleep(pollNanos);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StopTraining();
            }
        }
        if (!running) throw new StopTraining();
    }

    /** The governor's word, unless the task's step is not training and runs in the idle class anyway. */
    private boolean mayStep() {
        return (idleClass && !task.waitsForIdle()) || governor.mayTrain();
    }

    /** Unwinds a step when the worker closes while the step waits. */
    private static final class StopTraining extends RuntimeException {
        StopTraining() { super(null, null, false, false); }
    }

    /** How often a step had to wait at a checkpoint for serving to go idle. */
    public long pausedChecks() { return pausedChecks.get(); }

    private void loop() {
        TrainingCheckpoint.install(this::pauseWhileServing);
        Runnable setUp = idleCpuClass ? BackgroundScheduling::enterIdleClass : () -> {};
        setUp.run();
        idleClass = idleCpuClass && BackgroundScheduling.currentPolicy() == BackgroundScheduling.SCHED_IDLE;
        try (ParallelRunner runner = new ParallelRunner(threads, setUp)) {
            TrainingParallelism.install(runner);
            takeSteps();
        } finally {
            TrainingParallelism.install(null);
        }
    }

    private void takeSteps() {
        while (running) {
            boolean worked = false;
            try {
                if (!paused && mayStep()) {
                    long start = System.nanoTime();
                    worked = task.step();
                    busyNanos.addAndGet(System.nanoTime() - start);
                    if (worked) steps.incrementAndGet();
                }
            } catch (StopTraining e) {
                return;
            } catch (RuntimeException | Error e) {
                failure = e;
                running = false;
                return;
            }
            if (!worked) {
                try {
                    TimeUnit.NANOSECONDS.sleep(pollNanos);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
