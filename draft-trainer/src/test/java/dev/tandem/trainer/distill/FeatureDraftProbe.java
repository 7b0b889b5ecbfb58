package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.TargetSampler;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.DraftCopies;
import dev.tandem.trainer.version.DraftRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A manual experiment (-Dtandem.probe=true): would a draft that also reads the target's last hidden state (EAGLE-style)
 * accept more than today's token-only draft, on the traffic {@code bench osd} serves? Both start from the bootstrap
 * draft and train the same way (forward KL to the recorded top-k, the online learning rate and batch, the same
 * sampled batches) on 150 animals requests the target generated; the feature draft adds W_f rms(f[t-1]) to row t's
 * input, f[t-1] being the target's final residual at the previous position (known when row t is the first draft
 * token of a step; not for later draft tokens, hence features dropped from a share of rows while training). Judged
 * on 50 later requests by greedy agreement with the teacher, teacher-forced: with every feature (a step's first
 * draft token), with the row's own feature missing (the second), and with none.
 */
@EnabledIfSystemProperty(named = "tandem.probe", matches = "true")
class FeatureDraftProbe {

    private static final int TRAIN = Integer.getInteger("tandem.probe.requests", 150);
    private static final int TEST = Integer.getInteger("tandem.probe.test", 50);
    private static final int STEPS = Integer.getInteger("tandem.probe.steps", 1200);
    private static final double DROP = Double.parseDouble(System.getProperty("tandem.probe.drop", "0.3"));
    /** Test requests judged row by row with the row's own feature missing (a forward per row). */
    /** W_f's learning rate as a multiple of the draft's. */
    private static final double WF_LR_SCALE = Double.parseDouble(System.getProperty("tandem.probe.wf-lr-scale", "1"));
    /** Variants to train: token, feature or both. */
    private static final String VARIANTS = System.getProperty("tandem.probe.variants", "token,feature");
    private static final int OWN_MISSING_SAMPLES = Integer.getInteger("tandem.probe.own-missing", 20);

    @Test
    void compare() throws Exception {
        TrainerSettings settings = TrainerSettings.defaults();
        DistillerSettings ds = settings.onlineDistiller();
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            DraftModel bootstrap = DraftRegistry.open(TandemHome.root().resolve("drafts")).live(DraftModel.GENERAL_CLASS).orElseThrow(
                    () -> new IllegalStateException("no bootstrap draft under the Tandem home: run tandem draft bootstrap"));
            List<DistillationSample> samples = new ArrayList<>();
            TrafficRecorder recorder = new TrafficRecorder(settings.topK(), 1.0, settings.maxPendingBytes(), samples::add, p -> TrafficGenerator.ANIMALS, 1);
            try (TargetSampler sampler = new TargetSampler(m.model().weights(), m.tokenizer(), runner, recorder)) {
                sampler.generate(TrafficGenerator.builtIn(1).take(TrafficGenerator.ANIMALS, TRAIN + TEST), 64, 8, Long.MAX_VALUE);
            }
            int dim = bootstrap.config().dim();
            // The target's final residual at every position of every sample, rms-normalized.
            List<float[]> features = new ArrayList<>();
            LlamaStage stage = new LlamaStage(m.model().weights(), 0, m.model().config().nLayers(), runner, 512);
            ForwardBatch batch = new ForwardBatch(dim, 512);
            for (DistillationSample s : samples) {
                int n = s.contextLength();
                batch.clear();
                for (int t = 0; t < n; t++) batch.addToken(1, t, s.tokens()[t], RowOutput.HIDDEN);
                StageOutput out = stage.forward(batch);
                float[] f = new float[n * dim];
                for (int t = 0; t < n; t++) {
                    int off = out.hiddenOffset(t);
                    double ss = 0;
                    for (int i = 0; i < dim; i++) ss += (double) out.hidden()[off + i] * out.hidden()[off + i];
                    float inv = (float) (1 / Math.sqrt(ss / dim + 1e-5));
                    for (int i = 0; i < dim; i++) f[t * dim + i] = out.hidden()[off + i] * inv;
                }
                stage.cache().release(1);
                features.add(f);
            }
            List<DistillationSample> train = samples.subList(0, TRAIN);
            List<DistillationSample> test = samples.subList(TRAIN, samples.size());
            List<float[]> trainF = features.subList(0, TRAIN);
            List<float[]> testF = features.subList(TRAIN, samples.size());

            Variant base = new Variant(DraftCopies.copy(bootstrap, 1, TrafficGenerator.ANIMALS), null);
            System.out.printf(Locale.ROOT, "bootstrap: none %.3f%n", base.agreement(test, testF, Mode.NONE));
            Variant token = new Variant(DraftCopies.copy(bootstrap, 1, TrafficGenerator.ANIMALS), null);
            Variant feature = new Variant(DraftCopies.copy(bootstrap, 1, TrafficGenerator.ANIMALS), new float[dim * dim]);
            for (Variant v : List.of(token, feature)) {
                if (!VARIANTS.contains(v.wf == null ? "token" : "feature")) continue;
                long t0 = System.nanoTime();
                v.train(train, trainF, ds, STEPS);
                System.out.printf(Locale.ROOT, "%s after %d steps (%.0f s): all features %.3f, own feature missing %.3f, none %.3f%n",
                        v.wf == null ? "token draft  " : "feature draft", STEPS, (System.nanoTime() - t0) / 1e9,
                        v.agreement(test, testF, Mode.ALL), v.agreement(test.subList(0, OWN_MISSING_SAMPLES), testF, Mode.OWN_MISSING),
                        v.agreement(test, testF, Mode.NONE));
            }
        }
    }

    enum Mode { ALL, OWN_MISSING, NONE }

    private static final class Variant {
        final DraftModel model;
        final float[] wf;
        final int dim;
        final int head;
        final DraftForward forward;
        final DraftBackward backward;
        final PackedDraftWeights packed;
        float[] addend = new float[0];

        Variant(DraftModel model, float[] wf) {
            this.model = model;
            this.wf = wf;
            this.dim = model.config().dim();
            this.head = model.config().headSize();
            this.forward = new DraftForward(model.config());
            this.backward = new DraftBackward(model.config());
            this.packed = new PackedDraftWeights(model.config());
        }

        /** Row t's addend W_f f[t-1] for the rows whose feature is kept. */
        float[] addend(float[] f, int length, boolean[] keep) {
            if (addend.length < length * dim) addend = new float[length * dim];
            java.util.Arrays.fill(addend, 0, length * dim, 0f);
            if (wf == null) return addend;
            for (int t = 1; t < length; t++) {
                if (!keep[t]) continue;
                for (int i = 0; i < dim; i++) {
                    float acc = 0;
                    for (int j = 0; j < dim; j++) acc += wf[i * dim + j] * f[(t - 1) * dim + j];
                    addend[t * dim + i] = acc;
                }
            }
            return addend;
        }

        void train(List<DistillationSample> samples, List<float[]> features, DistillerSettings ds, int steps) {
            AdamW adam = new AdamW(model.config(), ds.optimizer(), false);
            DraftGradients g = new DraftGradients(model.config(), false);
            float[] gwf = wf == null ? null : new float[wf.length];
            float[] mwf = wf == null ? null : new float[wf.length];
            float[] vwf = wf == null ? null : new float[wf.length];
            SplittableRandom random = new SplittableRandom(7);
            SplittableRandom drops = new SplittableRandom(11);
            double[] p = new double[head];
            double[] q = new double[head];
            double[] dq = new double[head];
            int batchSize = 4;
            for (int step = 1; step <= steps; step++) {
                g.clear();
                if (gwf != null) java.util.Arrays.fill(gwf, 0f);
                int[] picks = new int[batchSize];
                double weightSum = 0;
                for (int b = 0; b < batchSize; b++) {
                    picks[b] = random.nextInt(samples.size());
                    DistillationSample s = samples.get(picks[b]);
                    for (int i = 0; i < s.positionCount(); i++) weightSum += s.rejected()[i] ? ds.rejectedWeight() : 1;
                }
                packed.pack(model.parameters());
                for (int b = 0; b < batchSize; b++) {
                    DistillationSample s = samples.get(picks[b]);
                    float[] f = features.get(picks[b]);
                    int len = s.contextLength();
                    boolean[] keep = new boolean[len];
                    for (int t = 0; t < len; t++) keep[t] = drops.nextDouble() >= DROP;
                    forward.inputAddend = addend(f, len, keep);
                    int n = s.positionCount();
                    int[] rows = new int[n];
                    for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
                    DraftActivations a = forward.forwardPacked(packed, model.parameters(), s.tokens(), len, rows, n);
                    forward.inputAddend = null;
                    float[] dLogits = new float[n * head];
                    for (int i = 0; i < n; i++) {
                        double pOut = TeacherDistribution.project(s, i, model.vocabulary(), p, ds.teacherTemperature());
                        double w = (s.rejected()[i] ? ds.rejectedWeight() : 1) / weightSum;
                        ds.divergence().loss(p, pOut, a.logits, i * head, head, w, dLogits, i * head, q, dq);
                    }
                    backward.backward(model.parameters(), a, dLogits, g);
                    if (gwf != null) {
                        float[] dx = backward.inputGradient();
                        for (int t = 1; t < len; t++) {
                            if (!keep[t]) continue;
                            for (int i = 0; i < dim; i++) {
                                float d = dx[t * dim + i];
                                if (d == 0f) continue;
                                for (int j = 0; j < dim; j++) gwf[i * dim + j] += d * f[(t - 1) * dim + j];
                            }
                        }
                    }
                }
                adam.step(model.parameters(), g);
                if (wf != null) {
                    // Plain Adam on W_f with the draft's learning rate and betas (no decay, no clipping).
                    AdamW.Settings o = ds.optimizer();
                    double c1 = 1 - Math.pow(o.beta1(), step), c2 = 1 - Math.pow(o.beta2(), step);
                    for (int i = 0; i < wf.length; i++) {
                        mwf[i] = (float) (o.beta1() * mwf[i] + (1 - o.beta1()) * gwf[i]);
                        vwf[i] = (float) (o.beta2() * vwf[i] + (1 - o.beta2()) * gwf[i] * gwf[i]);
                        wf[i] -= (float) (WF_LR_SCALE * o.learningRate() * (mwf[i] / c1) / (Math.sqrt(vwf[i] / c2) + o.epsilon()));
                    }
                }
            }
        }

        /** Share of the recorded positions whose teacher argmax is the draft's greedy token. */
        double agreement(List<DistillationSample> samples, List<float[]> features, Mode mode) {
            packed.pack(model.parameters());
            long agree = 0, all = 0;
            for (int k = 0; k < samples.size(); k++) {
                DistillationSample s = samples.get(k);
                float[] f = features.get(k);
                int n = s.positionCount();
                if (mode == Mode.OWN_MISSING) {
                    for (int i = 0; i < n; i++) {
                        int row = s.positions()[i] - 1;
                        boolean[] keep = new boolean[row + 1];
                        java.util.Arrays.fill(keep, true);
                        keep[row] = false;
                        forward.inputAddend = addend(f, row + 1, keep);
                        DraftActivations a = forward.forwardPacked(packed, model.parameters(), s.tokens(), row + 1, new int[] {row}, 1);
                        forward.inputAddend = null;
                        if (model.vocabulary().tokenAt(GreedySampler.argmax(a.logits, 0, head)) == s.teacherArgmax(i)) agree++;
                        all++;
                    }
                    continue;
                }
                int len = s.contextLength();
                boolean[] keep = new boolean[len];
                java.util.Arrays.fill(keep, mode == Mode.ALL);
                forward.inputAddend = addend(f, len, keep);
                int[] rows = new int[n];
                for (int i = 0; i < n; i++) rows[i] = s.positions()[i] - 1;
                DraftActivations a = forward.forwardPacked(packed, model.parameters(), s.tokens(), len, rows, n);
                forward.inputAddend = null;
                for (int i = 0; i < n; i++, all++) {
                    if (model.vocabulary().tokenAt(GreedySampler.argmax(a.logits, i * head, head)) == s.teacherArgmax(i)) agree++;
                }
            }
            return (double) agree / Math.max(1, all);
        }
    }
}
