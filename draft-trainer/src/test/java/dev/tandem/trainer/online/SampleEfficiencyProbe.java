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
            // Optionally, each trained-on request's prompt continued `synthetic` more times by the target, sampled:
            // traffic of the class that idle capacity could generate, fed to the trainer with the request.
            int synthetic = Integer.getInteger("tandem.probe.synthetic", 0);
            float temperature = Float.parseFloat(System.getProperty("tandem.probe.synthetic-temperature", "0.8"));
            List<List<DistillationSample>> extra = new ArrayList<>();
            for (int i = 0; i < trainRequests; i++) extra.add(new ArrayList<>());
            if (synthetic > 0) {
                List<TrafficGenerator.Request> prompts = TrafficGenerator.builtIn(1).take(cls, trainRequests);
                List<TrafficGenerator.Request> repeated = new ArrayList<>();
                for (TrafficGenerator.Request r : prompts) for (int k = 0; k < synthetic; k++) repeated.add(r);
                List<DistillationSample> sampled = new ArrayList<>();
                TrafficRecorder synth = new TrafficRecorder(settings.topK(), 1.0, settings.maxPendingBytes(), sampled::add, p -> cls, 1);
                long s0 = System.nanoTime();
                try (TargetSampler sampler = new TargetSampler(m.model().weights(), m.tokenizer(), runner, synth)) {
                    sampler.generate(repeated, 64, 8, Long.MAX_VALUE,
                            i -> new dev.tandem.engine.sampling.SamplerSettings(temperature, 0, 1f, 1000 + i));
                }
                // Samples arrive in completion order: match them to their request by prompt prefix.
                for (DistillationSample s : sampled) {
                    for (int i = 0; i < trainRequests; i++) {
                        DistillationSample real = train.get(i);
                        int promptLen = real.positions()[0];
                        if (s.tokens().length >= promptLen && java.util.Arrays.equals(s.tokens(), 0, promptLen, real.tokens(), 0, promptLen)) {
                            extra.get(i).add(s);
                            break;
                        }
                    }
                }
                System.out.printf("generated %d sampled samples (temperature %.2f) in %.1f s%n", sampled.size(), temperature, (System.nanoTime() - s0) / 1e9);
            }
            DraftEvaluator evaluator = new DraftEvaluator(0);
            long e0 = System.nanoTime();
            String result = line(evaluator.evaluate(bootstrap, test));
            System.out.printf("bootstrap: %s (evaluated in %.0f ms)%n", result, (System.nanoTime() - e0) / 1e6);

            Path dir = Files.createTempDirectory("tandem-sample-efficiency");
            DraftRegistry registry = DraftRegistry.open(dir);
            registry.adopt(DraftModel.GENERAL_CLASS, bootstrap, AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, System.currentTimeMillis(), "bootstrap");
            ReplayBuffers buffers = ReplayBuffers.of(settings);
            OnlineTrainer trainer = new OnlineTrainer(settings, buffers, registry);
            TrainingParallelism.install(runner);
            t0 = System.nanoTime();
            try {
                for (int i = 0; i < train.size(); i++) {
                    buffers.accept(train.get(i));
                    for (DistillationSample x : extra.get(i)) buffers.accept(x);
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
            calibration(registry.liveOrGeneral(cls).orElseThrow(), test);
            calibration(bootstrap, test);
        }
    }

    /**
     * What stopping a proposal at the first draft token whose probability is below a threshold would do, k = 4 from
     * every start (teacher-forced, which is what a chain sees while its drafts are accepted): acceptance per token
     * tried, tokens proposed and accepted per step.
     */
    private static void calibration(DraftModel draft, List<DistillationSample> samples) {
        int head = draft.config().headSize();
        dev.tandem.trainer.distill.DraftForward forward = new dev.tandem.trainer.distill.DraftForward(draft.config());
        List<double[]> confidence = new ArrayList<>();
        List<boolean[]> matches = new ArrayList<>();
        for (DistillationSample s : samples) {
            int n = s.positionCount();
            int[] rows = new int[n];
            for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
            float[] logits = forward.logitsOfUnchanged(draft, s.tokens(), s.contextLength(), rows, n);
            double[] q = new double[head];
            double[] conf = new double[n];
            boolean[] match = new boolean[n];
            for (int i = 0; i < n; i++) {
                int best = dev.tandem.engine.sampling.GreedySampler.argmax(logits, i * head, head);
                match[i] = draft.vocabulary().tokenAt(best) == s.teacherArgmax(i);
                dev.tandem.trainer.distill.Divergence.softmax(logits, i * head, head, q);
                conf[i] = q[best];
            }
            confidence.add(conf);
            matches.add(match);
        }
        System.out.printf("calibration of v%d (%s):%n", draft.version(), draft.trafficClass());
        for (double tau : new double[] {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}) {
            long starts = 0, proposed = 0, accepted = 0, rejected = 0;
            for (int k = 0; k < samples.size(); k++) {
                double[] conf = confidence.get(k);
                boolean[] match = matches.get(k);
                int[] pos = samples.get(k).positions();
                for (int i = 0; i < conf.length; i++) {
                    starts++;
                    for (int j = 0; j < 4 && i + j < conf.length && pos[i + j] == pos[i] + j; j++) {
                        if (conf[i + j] < tau) break;
                        proposed++;
                        if (!match[i + j]) { rejected++; break; }
                        accepted++;
                    }
                }
            }
            System.out.printf(java.util.Locale.ROOT, "  threshold %.1f: acceptance per token tried %.3f, proposed per step %.2f, accepted per step %.3f%n",
                    tau, (double) accepted / Math.max(1, accepted + rejected), (double) proposed / starts, (double) accepted / starts);
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
