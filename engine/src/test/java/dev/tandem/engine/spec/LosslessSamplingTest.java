package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.SamplingDistribution;
import dev.tandem.engine.sampling.XorShiftRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sampling with speculation follows the target's distribution. On a tiny random target (12 tokens) with a
 * deliberately poor draft, 20,000 independent runs (one seed each) draft 3 tokens and verify them:
 * the first output token must follow p(. | prompt), and, in the runs where the first draft was rejected,
 * the token of the NEXT step must follow p(. | prompt, first token) — which also shows that the rejected
 * drafts left nothing behind in the KV cache. Chi-square goodness of fit, p > 0.01.
 */
class LosslessSamplingTest {

    private static final int TRIALS = 20_000;
    private static final double SIGNIFICANCE = 0.01;
    private static final int[] PROMPT = {1, 5, 7, 3};
    private static final int DRAFTS = 3;
    /** Enough new tokens for a second step after a first-position rejection. */
    private static final int NEW_TOKENS = 4;
    /** After-rejection buckets (by first token) with fewer runs than this are left out of the combined test. */
    private static final int MIN_BUCKET = 200;

    private static ModelWeights target;
    private static ParallelRunner runner;

    @BeforeAll
    static void setUp() {
        target = TinyTarget.create(7);
        runner = new ParallelRunner(1);
    }

    @AfterAll
    static void tearDown() {
        runner.close();
    }

    /** A poor draft: always the same skewed distribution q(i) ~ 0.55^i, whatever the context. */
    static final class SkewedProposer implements Proposer {
        private final XorShiftRandom random;
        private final float[] q;

        SkewedProposer(long seed, int vocab) {
            random = new XorShiftRandom(seed * 7919 + 13);
            q = new float[vocab];
            float sum = 0;
            for (int i = 0; i < vocab; i++) sum += q[i] = (float) Math.pow(0.55, i);
            for (int i = 0; i < vocab; i++) q[i] /= sum;
        }

        @Override public String name() { return "skewed"; }

        @Override
        public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
            for (int j = 0; j < maxDrafts; j++) {
                int x = SamplingDistribution.draw(q, 0, q.length, random.nextFloat());
                int off = draft.addSampled(x);
                System.arraycopy(q, 0, draft.probabilities(), off, q.length);
            }
        }
    }

    private static ProposerFactory proposer(String kind) {
        ModelConfig c = target.config();
        return switch (kind) {
            case "skewed" -> new ProposerFactory() {
                @Override public String name() { return "skewed"; }

                @Override public Proposer open(long seqId, SamplerSettings sampling) {
                    return new SkewedProposer(sampling.seed(), c.vocabSize());
                }
            };
            case "draft" -> {
                // A random draft model whose head covers only half the vocabulary: q is 0 elsewhere.
                DraftConfig dc = new DraftConfig(8, 16, 1, 2, 2, c.vocabSize(), 6, c.seqLen(), 1e-5f, 10000f);
                DraftModel d = DraftModel.random(dc, new ReducedVocabulary(new int[]{0, 2, 3, 5, 8, 11}, c.vocabSize()), 99);
                yield DraftModelProposer.factory(d, c.vocabSize(), c.seqLen(), runner);
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** p(. | tokens) of the target under these settings. */
    private static double[] targetDistribution(int[] tokens, SamplerSettings settings) {
        ModelConfig c = target.config();
        LlamaStage stage = new LlamaStage(target, 0, c.nLayers(), runner, tokens.length);
        ForwardBatch b = new ForwardBatch(c.dim(), tokens.length);
        for (int i = 0; i < tokens.length; i++) b.addToken(0, i, tokens[i], i == tokens.length - 1);
        StageOutput out = stage.forward(b);
        float[] p = new float[c.vocabSize()];
        new SamplingDistribution(settings, c.vocabSize()).compute(out.logits(), out.logitsOffset(tokens.length - 1), c.vocabSize(), p, 0);
        double[] d = new double[p.length];
        for (int i = 0; i < p.length; i++) d[i] = p[i];
        return d;
    }

    private static SamplerSettings settings(float temperature, int topK, float topP, long seed) {
        return new SamplerSettings(temperature, topK, topP, seed);
    }

    @ParameterizedTest(name = "{0}, temperature {1}, top-k {2}, top-p {3}")
    @CsvSource({"skewed, 1.0, 0, 1.0", "skewed, 0.8, 6, 0.9", "draft, 1.0, 0, 1.0", "draft, 1.3, 0, 0.95"})
    void sampledTokensFollowTheTargetDistributionAlsoAfterARejection(String kind, float temperature, int topK, float topP) {
        int vocab = target.config().vocabSize();
        long[] first = new long[vocab];
        long[][] afterRejection = new long[vocab][vocab];
        long rejections = 0;
        long proposed = 0;
        long acceptedDrafts = 0;
        SpeculationCosts costs = new SpeculationCosts();
        try (SpeculativeDecoder decoder = new SpeculativeDecoder(target, runner, proposer(kind), costs, SpeculationOptions.fixed(DRAFTS))) {
            for (int t = 0; t < TRIALS; t++) {
                DecodingSequence s = decoder.start(0, PROMPT, settings(temperature, topK, topP, 1000 + t), NEW_TOKENS);
                decoder.step(List.of(s));
                int x1 = s.stepToken(0);
                first[x1]++;
                proposed += s.stats().proposed();
                acceptedDrafts += s.stats().accepted();
                if (s.stats().proposed() == DRAFTS && s.stats().accepted() == 0) {
                    rejections++;
                    decoder.step(List.of(s));
                    afterRejection[x1][s.stepToken(0)]++;
                }
                decoder.release(s);
            }
            assertEquals(0, decoder.target().cache().sequences().length);
        }
        SamplerSettings shape = settings(temperature, topK, topP, 1);
        double[] p1 = targetDistribution(PROMPT, shape);
        assertSupport(first, p1, "first token");
        ChiSquare.Result firstFit = ChiSquare.test(first, p1);
        assertTrue(firstFit.pValue() > SIGNIFICANCE, "first tokens do not follow p: " + firstFit);

        List<ChiSquare.Result> parts = new ArrayList<>();
        long tested = 0;
        for (int x1 = 0; x1 < vocab; x1++) {
            long n = 0;
            for (long c : afterRejection[x1]) n += c;
            if (n == 0) continue;
            int[] context = java.util.Arrays.copyOf(PROMPT, PROMPT.length + 1);
            context[PROMPT.length] = x1;
            double[] p2 = targetDistribution(context, shape);
            assertSupport(afterRejection[x1], p2, "token after a rejection and " + x1);
            if (n < MIN_BUCKET) continue;
            parts.add(ChiSquare.test(afterRejection[x1], p2));
            tested += n;
        }
        ChiSquare.Result afterFit = ChiSquare.combine(parts);
        double acceptance = (double) acceptedDrafts / proposed;
        System.out.printf("%s T=%.1f k=%d p=%.2f: acceptance %.3f, first-position rejections %d (%d tested), first %s, after %s%n",
                kind, temperature, topK, topP, acceptance, rejections, tested, firstFit, afterFit);
        assertTrue(rejections > TRIALS / 10, "the draft is not poor enough to test rejections: " + rejections);
        assertTrue(tested > TRIALS / 20, "too few runs after a rejection: " + tested);
        assertTrue(afterFit.pValue() > SIGNIFICANCE, "tokens after a rejection do not follow p: " + afterFit);
    }

    private static void assertSupport(long[] observed, double[] p, String what) {
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) assertEquals(0, observed[i], what + ": token " + i + " has probability 0 but was output");
        }
    }
}
