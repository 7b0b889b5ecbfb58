package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.engine.tokenizer.Tokenizer;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.idle.IdleGovernor;
import dev.tandem.trainer.idle.TrainingWorker;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficClassifier;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import dev.tandem.trainer.version.SwappableDraft;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The online speculative decoding benchmark, in this process (mode "local"): a stream of requests of
 * family A then family B, served in bursts (batched) with idle gaps between them, while the trainer
 * records verification, distills per-class drafts in the gaps (idle governor) and publishes better ones.
 * Every burst is also served, right before, with no speculation and with the frozen bootstrap draft, so the
 * three see the same machine load (the machine is shared); for a prefix of the stream it is served once
 * more with the frozen draft while a second trainer records and trains (trainer on), for the trainer's
 * effect on latency at equal load and equal draft. Servers report their load to one {@link ServingLoad}
 * that both trainers' governors watch.
 */
public final class OnlineDistillationBench {

    /** Rolling window (requests) of the recovery measurement after the shift. */
    public static final int RECOVERY_WINDOW = 10;
    /** How close to its plateau family B must come. */
    public static final double RECOVERY_TOLERANCE = 0.05;
    private static final double P99 = 0.99;
    private static final double P50 = 0.5;
    /** Not from any family (an untagged warm-up is recorded, if at all, for the general class only). */
    public static final String WARMUP_PROMPT = "Once upon a time, there was a little girl.";

    /**
     * @param requests             requests in the stream (half A, half B)
     * @param burst                requests arriving together (served batched)
     * @param gapMillis            idle time after each burst
     * @param window               requests per reported window
     * @param interferenceRequests prefix of the stream served trainer off / on with the frozen draft
     * @param draftLength          drafts per step (0: the engine's adaptive choice)
     */
    public record Settings(int requests, int maxNewTokens, int burst, long gapMillis, String familyA, String familyB, int window,
                           int interferenceRequests, int draftLength) {
        public Settings {
            if (requests < 2 || maxNewTokens < 1 || burst < 1 || gapMillis < 0 || window < 1 || interferenceRequests < 0 || draftLength < 0) {
                throw new IllegalArgumentException("bad benchmark settings " + this);
            }
        }
    }

    private final ModelWeights target;
    private final Tokenizer tokenizer;
    private final ParallelRunner runner;
    private final TrainerSettings trainerSettings;
    private final Consumer<String> log;

    public OnlineDistillationBench(ModelWeights target, Tokenizer tokenizer, ParallelRunner runner, TrainerSettings trainerSettings,
                                   Consumer<String> log) {
        this.target = target;
        this.tokenizer = tokenizer;
        this.runner = runner;
        this.trainerSettings = trainerSettings;
        this.log = log;
    }

    public OsdBenchResult run(String modelName, DraftModel bootstrap, TrafficGenerator traffic, Settings s, Path workDir) {
        long start = System.nanoTime();
        int nA = s.requests() / 2;
        List<TrafficGenerator.Request> stream = new ArrayList<>(traffic.take(s.familyA(), nA));
        stream.addAll(traffic.take(s.familyB(), s.requests() - nA));
        int m = Math.min(s.interferenceRequests(), stream.size());
        ServingLoad load = new ServingLoad();

        // Online: recorder, per-class drafts published by the trainer into the proposer factory.
        Map<Long, String> onlineClasses = new ConcurrentHashMap<>();
        DraftRegistry registry = DraftRegistry.open(workDir.resolve("online"));
        SwappableDraft onlineDrafts = new SwappableDraft(target.config().vocabSize(), target.config().seqLen(), runner, onlineClasses::get);
        registry.addPublisher(onlineDrafts);
        registry.submit(DraftModel.GENERAL_CLASS, bootstrap, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true),
                "bootstrap");
        ReplayBuffers buffers = buffers();
        TrafficClassifier classifier = new TrafficClassifier(trainerSettings.classifierMinExamples(), trainerSettings.classifierMinPosterior());
        TrafficRecorder recorder = recorder(buffers, classifier::classify);
        recorder.onTagged(classifier::learn);
        OnlineTrainer trainer = new OnlineTrainer(trainerSettings, buffers, registry);
        trainer.onEvent(e -> log.accept(String.format(java.util.Locale.ROOT, "  %s v%d %s: accepted/step %.3f vs live %.3f (greedy %.3f vs %.3f)%s",
                e.trafficClass(), e.entry().version(), e.entry().status().name().toLowerCase(java.util.Locale.ROOT),
                e.comparison().candidate().expectedAccepted(), e.comparison().live().expectedAccepted(),
                e.comparison().candidate().greedyAcceptance(), e.comparison().live().greedyAcceptance(), e.rolledBack() ? ", rolled back" : "")));

        // Frozen bootstrap draft, trainer off; and the same with a recorder and a second trainer on (latency at equal draft).
        Map<Long, String> frozenClasses = new ConcurrentHashMap<>();
        SwappableDraft frozenDrafts = new SwappableDraft(target.config().vocabSize(), target.config().seqLen(), runner, frozenClasses::get);
        frozenDrafts.live(DraftModel.GENERAL_CLASS, bootstrap);
        DraftRegistry sideRegistry = DraftRegistry.open(workDir.resolve("interference"));
        sideRegistry.submit(DraftModel.GENERAL_CLASS, bootstrap, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true),
                "bootstrap");
        ReplayBuffers sideBuffers = buffers();
        TrafficRecorder sideRecorder = recorder(sideBuffers, p -> DraftModel.GENERAL_CLASS);
        OnlineTrainer sideTrainer = new OnlineTrainer(trainerSettings, sideBuffers, sideRegistry);

        List<RequestRecord> noneRun = new ArrayList<>();
        List<RequestRecord> frozenRun = new ArrayList<>();
        List<RequestRecord> off = new ArrayList<>();
        List<RequestRecord> on = new ArrayList<>();
        List<RequestRecord> onlineRun = new ArrayList<>();
        long steps;
        double trainingSeconds;
        try (LocalServing none = serving(s, NoneProposer.factory(), new ConcurrentHashMap<>(), null, null, load);
             LocalServing frozen = serving(s, frozenDrafts, frozenClasses, null, null, load);
             LocalServing frozenOn = serving(s, frozenDrafts, frozenClasses, sideRecorder, sideRecorder::tag, load);
             LocalServing online = serving(s, onlineDrafts, onlineClasses, recorder, recorder::tag, load)) {
            log.accept("warm-up");
            for (LocalServing x : List.of(none, frozen, frozenOn, online)) x.warmUp(WARMUP_PROMPT, s.maxNewTokens());
            IdleGovernor governor = new IdleGovernor(trainerSettings.idle(), load::signals);
            log.accept("serving " + stream.size() + " requests, each with no speculation, the frozen bootstrap draft"
                    + (m > 0 ? " (the first " + m + " also with a trainer on)" : "") + " and online distillation, interleaved");
            try (TrainingWorker worker = new TrainingWorker(governor, trainer.after(recorder), trainerSettings.pollNanos(), 1,
                    trainerSettings.idleCpuClass()).start();
                 TrainingWorker sideWorker = new TrainingWorker(new IdleGovernor(trainerSettings.idle(), load::signals), sideTrainer.after(sideRecorder),
                         trainerSettings.pollNanos(), 1, trainerSettings.idleCpuClass())) {
                if (m > 0) sideWorker.start();
                for (int from = 0; from < stream.size(); from += s.burst()) {
                    List<TrafficGenerator.Request> burst = stream.subList(from, Math.min(stream.size(), from + s.burst()));
                    noneRun.addAll(serve(none, burst, s));
                    List<RequestRecord> f = serve(frozen, burst, s);
                    frozenRun.addAll(f);
                    if (from < m) {
                        off.addAll(f);
                        on.addAll(serve(frozenOn, burst, s));
                        if (from + s.burst() >= m) sideWorker.close();
                    }
                    onlineRun.addAll(serve(online, burst, s));
                    if (worker.failure() != null) throw new IllegalStateException("the trainer failed", worker.failure());
                    if ((from / s.burst()) % 10 == 9) {
                        List<RequestRecord> last = onlineRun.subList(Math.max(0, onlineRun.size() - 10 * s.burst()), onlineRun.size());
                        log.accept(String.format(java.util.Locale.ROOT, "  %d requests, online acceptance of the last 10 bursts %.3f, trainer steps %d",
                                onlineRun.size(), acceptance(last), worker.steps()));
                    }
                    sleep(s.gapMillis());
                }
                steps = worker.steps();
                trainingSeconds = worker.busyNanos() / 1e9;
            }
        }
        return result(modelName, s, stream, nA, noneRun, frozenRun, new OnlineRun(onlineRun, steps, trainingSeconds, trainer.events()), off, on,
                (System.nanoTime() - start) / 1e9);
    }

    private record OnlineRun(List<RequestRecord> records, long steps, double trainingSeconds, List<OnlineTrainer.Event> events) {}

    private ReplayBuffers buffers() {
        return ReplayBuffers.of(trainerSettings);
    }

    private TrafficRecorder recorder(ReplayBuffers buffers, java.util.function.Function<int[], String> classifier) {
        return new TrafficRecorder(trainerSettings.topK(), trainerSettings.samplingRate(), trainerSettings.maxPendingBytes(), buffers, classifier, 1)
                .deferTeacher(trainerSettings.deferTeacher()); // resolved by the trainers' tasks (OnlineTrainer.after)
    }

    private LocalServing serving(Settings s, ProposerFactory proposers, Map<Long, String> classes, TrafficRecorder recorder,
                                 java.util.function.BiConsumer<Long, String> tagger, ServingLoad load) {
        SpeculationOptions options = s.draftLength() > 0 ? SpeculationOptions.fixed(s.draftLength()) : SpeculationOptions.defaults();
        return new LocalServing(target, tokenizer, runner, proposers, options, classes, recorder, tagger, load);
    }

    private static List<RequestRecord> serve(LocalServing serving, List<TrafficGenerator.Request> burst, Settings s) {
        serving.arriving(burst.size());
        List<SpeculativeResult> results = serving.serve(burst, s.maxNewTokens());
        List<RequestRecord> out = new ArrayList<>();
        for (int i = 0; i < burst.size(); i++) out.add(RequestRecord.of(burst.get(i).trafficClass(), results.get(i), serving.counts(i)));
        return out;
    }

    private OsdBenchResult result(String model, Settings s, List<TrafficGenerator.Request> stream, int nA, List<RequestRecord> none,
                                  List<RequestRecord> frozen, OnlineRun online, List<RequestRecord> off, List<RequestRecord> on,
                                  double seconds) {
        List<RequestRecord> rec = online.records();
        List<OsdBenchResult.Window> windows = new ArrayList<>();
        int index = 0;
        for (int[] range : windowRanges(stream.size(), nA, s.window())) {
            List<RequestRecord> w = rec.subList(range[0], range[1]);
            windows.add(new OsdBenchResult.Window(index++, w.getFirst().trafficClass(), w.size(), acceptance(w), acceptedPerProposed(w),
                    tokensPerStep(w), tpotMs(w), tokensPerStep(frozen.subList(range[0], range[1])),
                    acceptance(frozen.subList(range[0], range[1])), tpotMs(frozen.subList(range[0], range[1])),
                    tpotMs(none.subList(range[0], range[1]))));
        }
        List<RequestRecord> a = rec.subList(0, nA);
        List<RequestRecord> b = rec.subList(nA, rec.size());
        int lastA = Math.max(0, nA - s.window());
        double finalA = acceptance(a.subList(lastA, a.size()));
        List<RequestRecord> lastB = b.subList(Math.max(0, b.size() - s.window()), b.size());
        double finalB = acceptance(lastB);
        int recovery = b.size();
        for (int i = RECOVERY_WINDOW; i <= b.size(); i++) {
            if (acceptance(b.subList(i - RECOVERY_WINDOW, i)) >= finalB - RECOVERY_TOLERANCE) {
                recovery = i;
                break;
            }
        }
        int last = Math.max(0, rec.size() - s.window());
        double speedupNone = tpotMs(none.subList(last, none.size())) / tpotMs(rec.subList(last, rec.size()));
        double speedupNoneOverall = tpotMs(none) / tpotMs(rec);
        double speedupBootstrap = tpotMs(frozen.subList(last, frozen.size())) / tpotMs(rec.subList(last, rec.size()));
        double p99On = percentileMs(on, P99);
        double p99Off = percentileMs(off, P99);
        int published = 0;
        int rejected = 0;
        int rolledBack = 0;
        for (OnlineTrainer.Event e : online.events()) {
            if (e.entry().status() == DraftVersion.Status.REJECTED) rejected++;
            else published++;
            if (e.rolledBack()) rolledBack++;
        }
        return new OsdBenchResult("local", model, stream.size(), s.maxNewTokens(), s.burst(), s.gapMillis(), s.familyA(), s.familyB(), windows,
                acceptance(frozen), acceptance(frozen.subList(0, nA)), acceptance(frozen.subList(nA, frozen.size())), finalA, finalB, finalB,
                recovery, speedupNone, speedupNoneOverall, speedupBootstrap, p99On, p99Off, p99Off > 0 ? p99On / p99Off : 0,
                percentileMs(on, P50), percentileMs(off, P50), on.size(),
                online.steps(), published, rejected, rolledBack, online.trainingSeconds(), seconds);
    }

    /** Windows of {@code size} requests that never straddle the shift from A to B. */
    public static List<int[]> windowRanges(int total, int nA, int size) {
        List<int[]> out = new ArrayList<>();
        for (int[] part : new int[][]{{0, nA}, {nA, total}}) {
            for (int from = part[0]; from < part[1]; from += size) out.add(new int[]{from, Math.min(part[1], from + size)});
        }
        return out;
    }

    /** Per-token acceptance: accepted drafts over drafts tried up to each step's first rejection. */
    public static double acceptance(List<RequestRecord> r) {
        long tried = 0;
        long accepted = 0;
        for (RequestRecord x : r) {
            tried += x.tried();
            accepted += x.accepted();
        }
        return tried == 0 ? 0 : (double) accepted / tried;
    }

    /** Accepted over proposed drafts (depends on the draft length). */
    public static double acceptedPerProposed(List<RequestRecord> r) {
        long proposed = 0;
        long accepted = 0;
        for (RequestRecord x : r) {
            proposed += x.proposed();
            accepted += x.accepted();
        }
        return proposed == 0 ? 0 : (double) accepted / proposed;
    }

    public static double tokensPerStep(List<RequestRecord> r) {
        long tokens = 0;
        long steps = 0;
        for (RequestRecord x : r) {
            tokens += x.tokens();
            steps += x.steps();
        }
        return steps == 0 ? 0 : (double) tokens / steps;
    }

    public static double tpotMs(List<RequestRecord> r) {
        double sum = 0;
        for (RequestRecord x : r) sum += x.tpotNanos();
        return r.isEmpty() ? 0 : sum / r.size() / 1e6;
    }

    public static double percentileMs(List<RequestRecord> r, double q) {
        if (r.isEmpty()) return 0;
        long[] l = r.stream().mapToLong(RequestRecord::latencyNanos).toArray();
        Arrays.sort(l);
        return l[Math.min(l.length - 1, (int) Math.ceil(q * l.length) - 1)] / 1e6;
    }

    private static void sleep(long ms) {
        if (ms <= 0) return;
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
