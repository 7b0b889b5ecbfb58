package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.DraftBootstrap;
import dev.tandem.trainer.bootstrap.TargetSampler;
import dev.tandem.trainer.distill.TrainingParallelism;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A manual, serving-free replay of online distillation (-Dtandem.probe=true): the target generates a class's
 * requests, the samples reach an {@link OnlineTrainer} one request at a time with a fixed number of trainer steps
 * after each (as the gaps of {@code bench osd} allow), and the live draft's acceptance is measured on later
 * requests that are never trained on. Compares training settings (-Dtandem.trainer.* overrides) in minutes
 * rather than a ten-minute benchmark.
 */
@EnabledIfSystemProperty(named = "tandem.probe", matches = "true")
class SampleEfficiencyProbe {

    @Test
    void replay() throws Exception {
        int trainRequests = Integer.getInteger("tandem.probe.requests", 150);
        int testRequests = Integer.getInteger("tandem.probe.test", 50);
        int stepsPerRequest = Integer.getInteger("tandem.probe.steps", 8);
        int report = Integer.getInteger("tandem.probe.report", 25);
        String cls = System.getProperty("tandem.probe.class", TrafficGenerator.ANIMALS);
        TrainerSettings settings = TrainerSettings.defaults();
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            String bootstrapDir = System.getProperty("tandem.probe.bootstrap-dir");
            DraftRegistry home = DraftRegistry.open(bootstrapDir != null ? Path.of(bootstrapDir) : TandemHome.root().resolve("drafts"));
            DraftModel bootstrap = home.live(DraftModel.GENERAL_CLASS).orElseGet(() -> DraftBootstrap.run(m.model().weights(), m.tokenizer(),
                    runner, settings, TrafficGenerator.builtIn(1), DraftModel.GENERAL_CLASS, 2, home, System.out::println).draft());
            List<DistillationSample> samples = new ArrayList<>();
            TrafficRecorder recorder = new TrafficRecorder(settings.topK(), 1.0, settings.maxPendingBytes(), samples::add, p -> cls, 1);
            long t0 = System.nanoTime();
            try (TargetSampler sampler = new TargetSampler(m.model().weights(), m.tokenizer(), runner, recorder)) {
                sampler.generate(TrafficGenerator.builtIn(1).take(cls, trainRequests + testRequests), 64, 8, Long.MAX_VALUE);
            }
            System.out.printf("generated %d samples in %.1f s%n", samples.size(), (System.nanoTime() - t0) / 1e9);
            List<DistillationSample> train = samples.subList(0, trainRequests);
            List<DistillationSample> test = samples.subList(trainRequests, samples.size());
            DraftEvaluator evaluator = new DraftEvaluator(0);
            System.out.printf("bootstrap: %s%n", line(evaluator.evaluate(bootstrap, test)));

            Path dir = Files.createTempDirectory("tandem-sample-efficiency");
            DraftRegistry registry = DraftRegistry.open(dir);
            registry.adopt(DraftModel.GENERAL_CLASS, bootstrap, AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, System.currentTimeMillis(), "bootstrap");
            ReplayBuffers buffers = new ReplayBuffers(settings.replayBytesPerClass(), settings.heldOutBytesPerClass(), settings.heldOutEvery());
            OnlineTrainer trainer = new OnlineTrainer(settings, buffers, registry);
            TrainingParallelism.install(runner);
            t0 = System.nanoTime();
            try {
                for (int i = 0; i < train.size(); i++) {
                    buffers.accept(train.get(i));
                    for (int s = 0; s < stepsPerRequest; s++) trainer.step();
                    if ((i + 1) % report == 0) {
                        DraftModel live = registry.liveOrGeneral(cls).orElseThrow();
                        System.out.printf("after %3d requests (%5d steps, %.0f s): live v%d %s, outside its head %.3f%n", i + 1, trainer.steps(),
                                (System.nanoTime() - t0) / 1e9, live.version(), line(evaluator.evaluate(live, test)), outsideHead(live, test));
                        List<DistillationSample> seen = train.subList(Math.max(0, i + 1 - report), i + 1);
                        System.out.printf("    on the last %d trained-on requests: %s%n", seen.size(), line(evaluator.evaluate(live, seen)));
                    }
                }
            } finally {
                TrainingParallelism.install(null);
            }
        }
    }

    /** Fraction of the positions whose teacher argmax the draft's head cannot propose. */
    private static double outsideHead(DraftModel draft, List<DistillationSample> samples) {
        long outside = 0, all = 0;
        for (DistillationSample s : samples) {
            for (int i = 0; i < s.positionCount(); i++, all++) if (draft.vocabulary().indexOf(s.teacherArgmax(i)) < 0) outside++;
        }
        return (double) outside / Math.max(1, all);
    }

    private static String line(AcceptanceMetrics a) {
        return String.format(java.util.Locale.ROOT, "greedy acceptance %.3f, expected accepted (k=4) %.3f", a.greedyAcceptance(), a.expectedAccepted());
    }
}
