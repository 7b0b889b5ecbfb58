package dev.tandem.trainer.bootstrap;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.Tokenizer;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.distill.CandidateTrainer;
import dev.tandem.trainer.distill.TrainingParallelism;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * An initial draft distilled offline from the target's own samples, so a fresh cluster starts with
 * something better than chance: generate with the target on traffic-generator prompts (recording the
 * top-k teacher at every generated position), cut a draft from the target (first layers, head over the
 * tokens the samples use), distill it on the samples, evaluate on held-out samples, and submit it to the
 * registry (published if better than the class's live draft, if any).
 */
public final class DraftBootstrap {

    /** Share of the time budget spent generating teacher data; the rest trains. */
    private static final double GENERATION_SHARE = 0.35;
    /** One generated sequence in this many is held out for evaluation. */
    private static final int HELD_OUT_EVERY = 5;
    /** Bootstrap samples are all recorded. */
    private static final double FULL_SAMPLING = 1.0;
    private static final long SEED = 42;
    /** More prompts than any time budget gets through (prompts repeat round-robin). */
    private static final int MAX_REQUESTS = 100_000;

    /**
     * @param before   the untrained cut draft's acceptance on the held-out samples
     * @param after    the trained draft's
     * @param entry    the registry's record of it
     */
    public record Result(DraftModel draft, AcceptanceMetrics before, AcceptanceMetrics after, int trainSamples, int heldOutSamples,
                         long generatedTokens, long steps, double generationSeconds, double trainingSeconds, DraftVersion entry) {}

    private DraftBootstrap() {}

    public static Result run(ModelWeights target, Tokenizer tokenizer, ParallelRunner runner, TrainerSettings settings,
                             TrafficGenerator traffic, String trafficClass, double minutes, DraftRegistry registry, Consumer<String> log) {
        long budget = (long) (minutes * 60e9);
        long start = System.nanoTime();
        List<DistillationSample> samples = Collections.synchronizedList(new ArrayList<>());
        TrafficRecorder recorder = new TrafficRecorder(settings.topK(), FULL_SAMPLING, settings.maxPendingBytes(), samples::add,
                p -> trafficClass, SEED);
        // A general draft learns from generic prompts (or, with a traffic file, from all of it); a class's from its family.
        List<TrafficGenerator.Request> requests = !trafficClass.equals(DraftModel.GENERAL_CLASS) ? traffic.take(trafficClass, MAX_REQUESTS)
                : traffic.familyNames().contains(TrafficGenerator.STORIES) ? traffic.take(TrafficGenerator.STORIES, MAX_REQUESTS)
                : traffic.mixed(MAX_REQUESTS);
        long generated;
        try (TargetSampler sampler = new TargetSampler(target, tokenizer, runner, recorder)) {
            generated = sampler.generate(requests, settings.bootstrapMaxNewTokens(), settings.bootstrapStreams(),
                    start + (long) (budget * GENERATION_SHARE));
        }
        double generationSeconds = (System.nanoTime() - start) / 1e9;
        List<DistillationSample> train = new ArrayList<>();
        List<DistillationSample> heldOut = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 ? heldOut : train).add(samples.get(i));
        if (train.isEmpty() || heldOut.isEmpty()) throw new IllegalStateException("bootstrap generated too little teacher data in the time given");
        log.accept(String.format("generated %d tokens in %.0f s: %d training and %d held-out sequences", generated, generationSeconds,
                train.size(), heldOut.size()));

        ReducedVocabulary vocabulary = DraftVocabularies.fromSamples(train, settings.headTokens(), settings.baseTokens(),
                target.config().vocabSize());
        DraftModel cut = DraftModel.fromTarget(target, settings.draftLayers(), vocabulary).withVersion(0, trafficClass);
        DraftEvaluator evaluator = new DraftEvaluator(settings.margin());
        AcceptanceMetrics before = evaluator.evaluate(cut, heldOut);
        log.accept(String.format("draft cut from the target: %d layer(s), head over %d tokens; held-out greedy acceptance %.3f",
                settings.draftLayers(), vocabulary.size(), before.greedyAcceptance()));

        CandidateTrainer trainer = new CandidateTrainer(trafficClass, cut, settings.distiller());
        SplittableRandom random = new SplittableRandom(SEED);
        long trainStart = System.nanoTime();
        long deadline = start + budget;
        long lastLog = trainStart;
        // Nothing else runs here: the training products use the sampler's pool (this thread is its one caller).
        TrainingParallelism.install(runner);
        try {
            while (System.nanoTime() < deadline) {
                List<DistillationSample> batch = new ArrayList<>(settings.batchSize());
                for (int i = 0; i < settings.batchSize(); i++) batch.add(train.get(random.nextInt(train.size())));
                trainer.step(batch);
                if (System.nanoTime() - lastLog > 15e9) {
                    lastLog = System.nanoTime();
                    log.accept(String.format("step %d, loss %.4f", trainer.steps(), trainer.runningLoss()));
                }
            }
        } finally {
            TrainingParallelism.install(null);
        }
        double trainingSeconds = (System.nanoTime() - trainStart) / 1e9;
        DraftModel live = registry.live(trafficClass).orElse(null);
        DraftEvaluator.Comparison c = evaluator.compare(trainer.candidate(), live, heldOut);
        DraftVersion entry = registry.submit(trafficClass, trainer.candidate(), c, "bootstrap");
        DraftModel result = registry.live(trafficClass).orElse(trainer.candidate());
        return new Result(result, before, c.candidate(), train.size(), heldOut.size(), generated, trainer.steps(), generationSeconds,
                trainingSeconds, entry);
    }
}
