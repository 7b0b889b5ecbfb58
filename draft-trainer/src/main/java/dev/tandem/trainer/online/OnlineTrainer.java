package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.DraftVocabularies;
import dev.tandem.trainer.distill.CandidateTrainer;
import dev.tandem.trainer.distill.DraftForward;
import dev.tandem.trainer.idle.TrainingTask;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.ReplayBuffer;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.version.AcceptanceAccumulator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftCopies;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Online distillation as a {@link TrainingTask}: each step picks a traffic class, draws a batch from its
 * replay buffer and trains that class's candidate (a private copy that started from the class's live
 * draft, or the general one). Every {@code evaluateEverySteps} steps of a class the candidate is measured
 * against the live draft on the most recent held-out samples of the class and published if better; the
 * live draft is also checked against the version it replaced, which is restored if it now does worse
 * (traffic moved, or the publication was unlucky). An evaluation is spread over several steps of a few
 * samples each, so that every step stays short. Runs on the training thread only.
 *
 * <p>Which class: the one whose traffic arrived most recently gets {@link #FRESH_CLASS_SHARE} of the steps
 * (traffic shifts are followed quickly); the rest go round-robin over every class with data, the general
 * class included.
 */
public final class OnlineTrainer implements TrainingTask {

    /** Steps given to the class with the freshest traffic, out of {@link #SCHEDULE_PERIOD}. */
    private static final int FRESH_CLASS_SHARE = 3;
    private static final int SCHEDULE_PERIOD = 4;
    /** Held-out samples evaluated per training-thread step (each runs through two or three drafts). */
    private static final int EVALUATION_SAMPLES_PER_STEP = 1;
    /** After this many rejected evaluations in a row, the candidate restarts from the live draft. */
    private static final int RESTART_AFTER_REJECTIONS = 4;

    /** What happened at one evaluation. */
    public record Event(String trafficClass, long step, DraftVersion entry, DraftEvaluator.Comparison comparison, boolean rolledBack) {}

    private final TrainerSettings settings;
    private final ReplayBuffers buffers;
    private final DraftRegistry registry;
    private final DraftEvaluator evaluator;
    private final SplittableRandom random = new SplittableRandom(7);
    private final Map<String, CandidateTrainer> candidates = new LinkedHashMap<>();
    private final Map<String, Integer> rejections = new LinkedHashMap<>();
    private final Map<String, Long> seenAdded = new LinkedHashMap<>();
    private final List<Event> events = new CopyOnWriteArrayList<>();
    private volatile Consumer<Event> eventListener = e -> {};
    private Evaluation pending;
    /** The draft forwards of the candidate, incumbent and predecessor, kept from one evaluation to the next. */
    private final DraftForward[] evaluationForwards = new DraftForward[3];
    private String freshClass;
    private long steps;
    private int roundRobin;
    private volatile double lastLoss = Double.NaN;
    private volatile String lastClass = "";

    public OnlineTrainer(TrainerSettings settings, ReplayBuffers buffers, DraftRegistry registry) {
        this.settings = settings;
        this.buffers = buffers;
        this.registry = registry;
        this.evaluator = new DraftEvaluator(settings.margin());
    }

    public void onEvent(Consumer<Event> listener) { this.eventListener = listener; }

    public List<Event> events() { return List.copyOf(events); }

    public long steps() { return steps; }

    /** The running (smoothed) distillation loss of the candidate trained by the latest step (NaN before any). */
    public double lastLoss() { return lastLoss; }

    /** The class the latest step trained ("" before any). */
    public String lastClass() { return lastClass; }

    /**
     * This trainer's steps, each preceded by finishing one of the recorder's deferred samples while any wait
     * ({@link TrafficRecorder#resolveDeferred}): training and evaluation read only finished samples.
     */
    public TrainingTask after(TrafficRecorder recorder) {
        return () -> recorder.resolveDeferred() || step();
    }

    @Override
    public boolean step() {
        if (pending != null) {
            pending.advance(EVALUATION_SAMPLES_PER_STEP);
            if (pending.done()) {
                Evaluation e = pending;
                pending = null;
                finish(e);
            }
            return true;
        }
        String cls = pickClass();
        if (cls == null) return false;
        ReplayBuffer buffer = buffers.buffer(cls);
        CandidateTrainer trainer = candidates.get(cls);
        if (trainer == null) {
            Optional<DraftModel> start = registry.liveOrGeneral(cls);
            if (start.isEmpty()) return false; // nothing to start from: bootstrap first
            trainer = startCandidate(cls, start.get());
            candidates.put(cls, trainer);
        }
        List<DistillationSample> batch = buffer.sample(settings.batchSize(), random);
        trainer.step(batch);
        lastLoss = trainer.runningLoss();
        lastClass = cls;
        steps++;
        if (trainer.steps() % settings.evaluateEverySteps() == 0) {
            // The head follows the class's traffic: tokens it has used since the candidate started come in now.
            if (settings.classHeads() && !cls.equals(DraftModel.GENERAL_CLASS)) {
                ReducedVocabulary v = DraftVocabularies.refreshed(trainer.candidate().vocabulary(), buffer.trainingSamples(), settings.baseTokens());
                if (v != trainer.candidate().vocabulary()) trainer.moveHead(v);
            }
            List<DistillationSample> heldOut = buffer.recentHeldOut(settings.heldOutSamples());
            if (!heldOut.isEmpty()) {
                DraftModel live = registry.live(cls).orElse(null);
                // A class without its own draft is served by the general one: that is what the candidate must beat.
                DraftModel incumbent = live != null ? live : registry.live(DraftModel.GENERAL_CLASS).orElse(null);
                DraftModel previous = live != null ? registry.previous(cls).orElse(null) : null;
                pending = new Evaluation(cls, trainer, incumbent, live != null, previous, heldOut, evaluationForwards);
            }
        }
        return true;
    }

    /**
     * A candidate against the incumbent (and the live draft's predecessor) on held-out samples, advanced a
     * few samples per step so that the training thread stays quick to yield.
     */
    private static final class Evaluation {
        final String trafficClass;
        final CandidateTrainer trainer;
        final DraftModel incumbent;
        final boolean ownLive;
        final DraftModel previous;
        final List<DistillationSample> samples;
        final AcceptanceAccumulator candidateAcc;
        final AcceptanceAccumulator incumbentAcc;
        final AcceptanceAccumulator previousAcc;
        int next;

        Evaluation(String trafficClass, CandidateTrainer trainer, DraftModel incumbent, boolean ownLive, DraftModel previous,
                   List<DistillationSample> samples, DraftForward[] forwards) {
            this.trafficClass = trafficClass;
            this.trainer = trainer;
            this.incumbent = incumbent;
            this.ownLive = ownLive;
            this.previous = previous;
            this.samples = samples;
            this.candidateAcc = new AcceptanceAccumulator(trainer.candidate(), forward(forwards, 0, trainer.candidate()));
            this.incumbentAcc = incumbent == null ? null : new AcceptanceAccumulator(incumbent, forward(forwards, 1, incumbent));
            this.previousAcc = previous == null ? null : new AcceptanceAccumulator(previous, forward(forwards, 2, previous));
        }

        void advance(int n) {
            for (int i = 0; i < n && next < samples.size(); i++, next++) {
                DistillationSample s = samples.get(next);
                candidateAcc.add(s);
                if (incumbentAcc != null) incumbentAcc.add(s);
                if (previousAcc != null) previousAcc.add(s);
            }
        }

        boolean done() { return next >= samples.size(); }

        /** Slot {@code slot}'s forward, made anew only when the draft's config differs from the last one's. */
        private static DraftForward forward(DraftForward[] forwards, int slot, DraftModel draft) {
            if (forwards[slot] == null || !forwards[slot].config().equals(draft.config())) forwards[slot] = new DraftForward(draft.config());
            return forwards[slot];
        }
    }

    private void finish(Evaluation e) {
        String cls = e.trafficClass;
        AcceptanceMetrics candidate = e.candidateAcc.metrics();
        AcceptanceMetrics incumbent = e.incumbentAcc == null ? AcceptanceMetrics.NONE : e.incumbentAcc.metrics();
        DraftEvaluator.Comparison c = new DraftEvaluator.Comparison(candidate, incumbent,
                evaluator.better(candidate, incumbent, e.incumbent != null));
        CandidateTrainer trainer = e.trainer;
        DraftVersion entry = registry.submit(cls, trainer.candidate(), c, String.format(java.util.Locale.ROOT,
                "online: %d steps, %d positions, loss %.4f", trainer.steps(), trainer.positions(), trainer.runningLoss()));
        boolean rolledBack = false;
        if (entry.status() == DraftVersion.Status.REJECTED) {
            int n = rejections.merge(cls, 1, Integer::sum);
            // The live draft beat its predecessor when it was published; if the predecessor now does better on
            // recent traffic, go back to it.
            if (e.ownLive && e.previousAcc != null) {
                AcceptanceMetrics previous = e.previousAcc.metrics();
                if (evaluator.better(previous, incumbent, true)) {
                    registry.rollback(cls, String.format(java.util.Locale.ROOT, "v%d did better on recent traffic (%.3f vs %.3f accepted per step)",
                            e.previous.version(), previous.expectedAccepted(), incumbent.expectedAccepted()));
                    rolledBack = true;
                }
            }
            if (n >= RESTART_AFTER_REJECTIONS || rolledBack) {
                registry.liveOrGeneral(cls).ifPresent(d -> candidates.put(cls, startCandidate(cls, d)));
                rejections.put(cls, 0);
            }
        } else {
            rejections.put(cls, 0);
        }
        Event event = new Event(cls, steps, entry, c, rolledBack);
        events.add(event);
        eventListener.accept(event);
    }

    /**
     * A candidate for the class starting from {@code start}; with class heads on, a class's candidate first swaps
     * into its head the tokens the class's recorded traffic uses but the head lacks (the general draft's head was
     * picked from generic stories; tokens outside the head can never be drafted).
     */
    private CandidateTrainer startCandidate(String cls, DraftModel start) {
        DraftModel from = start;
        if (settings.classHeads() && !cls.equals(DraftModel.GENERAL_CLASS)) {
            ReducedVocabulary v = DraftVocabularies.refreshed(start.vocabulary(), buffers.buffer(cls).trainingSamples(), settings.baseTokens());
            if (v != start.vocabulary()) from = DraftCopies.withVocabulary(start, v, !settings.onlineDistiller().trainEmbedding());
        }
        return new CandidateTrainer(cls, from, settings.onlineDistiller());
    }

    /** The class to train now, or null when no class has enough samples. */
    private String pickClass() {
        List<String> ready = new ArrayList<>();
        for (String cls : buffers.classes()) {
            if (cls.equals(DraftModel.GENERAL_CLASS) || settings.perClassDrafts()) {
                ReplayBuffer b = buffers.buffer(cls);
                if (b.trainingCount() > 0 && b.heldOutCount() > 0) ready.add(cls);
            }
            ReplayBuffer b = buffers.buffer(cls);
            long added = b.added();
            if (added > seenAdded.getOrDefault(cls, 0L) && !cls.equals(DraftModel.GENERAL_CLASS)) {
                seenAdded.put(cls, added);
                freshClass = cls;
            }
        }
        if (ready.isEmpty()) return null;
        roundRobin++;
        if (freshClass != null && ready.contains(freshClass) && roundRobin % SCHEDULE_PERIOD < FRESH_CLASS_SHARE) return freshClass;
        return ready.get(roundRobin % ready.size());
    }
}
