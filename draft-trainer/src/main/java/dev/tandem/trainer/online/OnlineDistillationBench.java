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
 * The same stream is also served with no speculation and with the frozen bootstrap draft, and a prefix of
 * it twice with the frozen draft and gaps, trainer off then on, for the trainer's effect on latency at
 * equal load and equal draft.
 */
public final class OnlineDistillationBench {

    /** Rolling window (requests) of the recovery measurement after the shift. */
    private static final int RECOVERY_WINDOW = 10;
    /** How close to its plateau family B must come. */
    private static final double RECOVERY_TOLERANCE = 0.05;
    private static final int WARMUP_BURSTS = 2;
    private static final double P99 = 0.99;
    /** Not from any family (an untagged warm-up is recorded, if at all, for the general class only). */
    private static final String WARMUP_PROMPT = "Once upon a time, there was a little girl.";

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

        log.accept("warm-up");
        try (LocalServing none = serving(s, NoneProposer.factory(), new ConcurrentHashMap<>(), null, null)) {
            for (int i = 0; i < WARMUP_BURSTS; i++) none.serve(stream.subList(i * s.burst(), (i + 1) * s.burst()), s.maxNewTokens());
        }
        log.accept("no speculation: " + stream.size() + " requests");
        List<RequestRecord> noneRun;
        try (LocalServing none = serving(s, NoneProposer.factory(), new ConcurrentHashMap<>(), null, null)) {
            noneRun = serveAll(none, stream, s, 0, null);
        }
        log.accept("frozen bootstrap draft: " + stream.size() + " requests");
        List<RequestRecord> frozenRun = frozen(bootstrap, stream, s, 0);

        int m = Math.min(s.interferenceRequests(), stream.size());
        List<TrafficGenerator.Request> prefix = stream.subList(0, m);
        log.accept("latency at equal load, frozen draft, trainer off then on: " + m + " requests");
        List<RequestRecord> off = frozen(bootstrap, prefix, s, s.gapMillis());
        List<RequestRecord> on = interference(bootstrap, prefix, s, workDir.resolve("interference"));

        log.accept("online distillation: " + stream.size() + " requests");
        OnlineRun online = online(bootstrap, stream, s, workDir.resolve("online"));

        return result(modelName, s, stream, nA, noneRun, frozenRun, online, off, on, (System.nanoTime() - start) / 1e9);
    }

    private record OnlineRun(List<RequestRecord> records, long steps, double trainingSeconds, List<OnlineTrainer.Event> events) {}

    private OnlineRun online(DraftModel bootstrap, List<TrafficGenerator.Request> stream, Settings s, Path dir) {
        Map<Long, String> classes = new ConcurrentHashMap<>();
        DraftRegistry registry = DraftRegistry.open(dir);
        SwappableDraft drafts = new SwappableDraft(target.config().vocabSize(), target.config().seqLen(), runner, classes::get);
        registry.addPublisher(drafts);
        registry.submit(DraftModel.GENERAL_CLASS, bootstrap, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true),
                "bootstrap");
        ReplayBuffers buffers = new ReplayBuffers(trainerSettings.replayBytesPerClass(), trainerSettings.heldOutBytesPerClass(),
                trainerSettings.heldOutEvery());
        TrafficClassifier classifier = new TrafficClassifier(trainerSettings.classifierMinExamples(), trainerSettings.classifierMinPosterior());
        TrafficRecorder recorder = new TrafficRecorder(trainerSettings.topK(), trainerSettings.samplingRate(), trainerSettings.maxPendingBytes(),
                buffers, classifier::classify, 1);
        recorder.onTagged(classifier::learn);
        OnlineTrainer trainer = new OnlineTrainer(trainerSettings, buffers, registry);
        trainer.onEvent(e -> log.accept(String.format(java.util.Locale.ROOT, "  %s v%d %s: accepted/step %.3f vs live %.3f (greedy %.3f vs %.3f)%s",
                e.trafficClass(), e.entry().version(), e.entry().status().name().toLowerCase(java.util.Locale.ROOT),
                e.comparison().candidate().expectedAccepted(), e.comparison().live().expectedAccepted(),
                e.comparison().candidate().greedyAcceptance(), e.comparison().live().greedyAcceptance(), e.rolledBack() ? ", rolled back" : "")));
        try (LocalServing serving = serving(s, drafts, classes, recorder, recorder::tag)) {
            IdleGovernor governor = new IdleGovernor(trainerSettings.idle(), serving::signals);
            try (TrainingWorker worker = new TrainingWorker(governor, trainer, trainerSettings.pollNanos()).start()) {
                List<RequestRecord> records = serveAll(serving, stream, s, s.gapMillis(), worker);
                if (worker.failure() != null) throw new IllegalStateException("the trainer failed", worker.failure());
                return new OnlineRun(records, worker.steps(), worker.busyNanos() / 1e9, trainer.events());
            }
        }
    }

    /** The frozen draft with the trainer running on what it records, publishing nowhere that serving looks. */
    private List<RequestRecord> interference(DraftModel bootstrap, List<TrafficGenerator.Request> stream, Settings s, Path dir) {
        Map<Long, String> classes = new ConcurrentHashMap<>();
        SwappableDraft drafts = new SwappableDraft(target.config().vocabSize(), target.config().seqLen(), runner, classes::get);
        drafts.live(DraftModel.GENERAL_CLASS, bootstrap);
        DraftRegistry registry = DraftRegistry.open(dir);
        registry.submit(DraftModel.GENERAL_CLASS, bootstrap, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true),
                "bootstrap");
        ReplayBuffers buffers = new ReplayBuffers(trainerSettings.replayBytesPerClass(), trainerSettings.heldOutBytesPerClass(),
                trainerSettings.heldOutEvery());
        TrafficRecorder recorder = new TrafficRecorder(trainerSettings.topK(), trainerSettings.samplingRate(), trainerSettings.maxPendingBytes(),
                buffers, p -> DraftModel.GENERAL_CLASS, 1);
        OnlineTrainer trainer = new OnlineTrainer(trainerSettings, buffers, registry);
        try (LocalServing serving = serving(s, drafts, classes, recorder, recorder::tag)) {
            IdleGovernor governor = new IdleGovernor(trainerSettings.idle(), serving::signals);
            try (TrainingWorker worker = new TrainingWorker(governor, trainer, trainerSettings.pollNanos()).start()) {
                return serveAll(serving, stream, s, s.gapMillis(), worker);
            }
        }
    }

    private List<RequestRecord> frozen(DraftModel bootstrap, List<TrafficGenerator.Request> stream, Settings s, long gapMillis) {
        Map<Long, String> classes = new ConcurrentHashMap<>();
        SwappableDraft drafts = new SwappableDraft(target.config().vocabSize(), target.config().seqLen(), runner, classes::get);
        drafts.live(DraftModel.GENERAL_CLASS, bootstrap);
        try (LocalServing serving = serving(s, drafts, classes, null, null)) {
            return serveAll(serving, stream, s, gapMillis, null);
        }
    }

    private LocalServing serving(Settings s, ProposerFactory proposers, Map<Long, String> classes, TrafficRecorder recorder,
                                 java.util.function.BiConsumer<Long, String> tagger) {
        SpeculationOptions options = s.draftLength() > 0 ? SpeculationOptions.fixed(s.draftLength()) : SpeculationOptions.defaults();
        return new LocalServing(target, tokenizer, runner, proposers, options, classes, recorder, tagger);
    }

    private List<RequestRecord> serveAll(LocalServing serving, List<TrafficGenerator.Request> stream, Settings s, long gapMillis,
                                         TrainingWorker worker) {
        // A fresh generator and draft stage are slow on their first requests (buffers, compilation): warm it up unmeasured.
        serving.warmUp(WARMUP_PROMPT, s.maxNewTokens());
        List<RequestRecord> records = new ArrayList<>();
        for (int from = 0; from < stream.size(); from += s.burst()) {
            List<TrafficGenerator.Request> burst = stream.subList(from, Math.min(stream.size(), from + s.burst()));
            serving.arriving(burst.size());
            List<SpeculativeResult> results = serving.serve(burst, s.maxNewTokens());
            for (int i = 0; i < burst.size(); i++) records.add(RequestRecord.of(burst.get(i).trafficClass(), results.get(i), serving.counts(i)));
            if (worker != null && worker.failure() != null) throw new IllegalStateException("the trainer failed", worker.failure());
            if ((from / s.burst()) % 10 == 9) {
                log.accept(String.format(java.util.Locale.ROOT, "  %d requests, acceptance of the last 10 bursts %.3f%s", records.size(),
                        acceptance(records.subList(Math.max(0, records.size() - 10 * s.burst()), records.size())),
                        worker == null ? "" : ", trainer steps " + worker.steps()));
            }
            sleep(gapMillis);
        }
        return records;
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
                recovery, speedupNone, speedupNoneOverall, speedupBootstrap, p99On, p99Off, p99Off > 0 ? p99On / p99Off : 0, on.size(),
                online.steps(), published, rejected, rolledBack, online.trainingSeconds(), seconds);
    }

    /** Windows of {@code size} requests that never straddle the shift from A to B. */
    static List<int[]> windowRanges(int total, int nA, int size) {
        List<int[]> out = new ArrayList<>();
        for (int[] part : new int[][]{{0, nA}, {nA, total}}) {
            for (int from = part[0]; from < part[1]; from += size) out.add(new int[]{from, Math.min(part[1], from + size)});
        }
        return out;
    }

    /** Per-token acceptance: accepted drafts over drafts tried up to each step's first rejection. */
    static double acceptance(List<RequestRecord> r) {
        long tried = 0;
        long accepted = 0;
        for (RequestRecord x : r) {
            tried += x.tried();
            accepted += x.accepted();
        }
        return tried == 0 ? 0 : (double) accepted / tried;
    }

    /** Accepted over proposed drafts (depends on the draft length). */
    static double acceptedPerProposed(List<RequestRecord> r) {
        long proposed = 0;
        long accepted = 0;
        for (RequestRecord x : r) {
            proposed += x.proposed();
            accepted += x.accepted();
        }
        return proposed == 0 ? 0 : (double) accepted / proposed;
    }

    static double tokensPerStep(List<RequestRecord> r) {
        long tokens = 0;
        long steps = 0;
        for (RequestRecord x : r) {
            tokens += x.tokens();
            steps += x.steps();
        }
        return steps == 0 ? 0 : (double) tokens / steps;
    }

    static double tpotMs(List<RequestRecord> r) {
        double sum = 0;
        for (RequestRecord x : r) sum += x.tpotNanos();
        return r.isEmpty() ? 0 : sum / r.size() / 1e6;
    }

    static double percentileMs(List<RequestRecord> r, double q) {
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
