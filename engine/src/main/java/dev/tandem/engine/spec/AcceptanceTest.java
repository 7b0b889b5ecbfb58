package dev.tandem.engine.spec;

import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.sampling.SamplingDistribution;
import dev.tandem.engine.sampling.StochasticSampler;
import dev.tandem.engine.sampling.XorShiftRandom;

import java.util.function.IntUnaryOperator;

/**
 * The verifier of speculative decoding for one sequence: given the target's logits at the k + 1 positions
 * [last committed token, draft 1 .. draft k] and the draft, decides which tokens the target outputs.
 * <ul>
 *   <li>Greedy (temperature 0): drafts are accepted while each equals the target's argmax (lowest id on
 *       ties, as {@link GreedySampler}); then the target's own argmax follows.</li>
 *   <li>Sampling: draft x at position i is accepted with probability min(1, p(x) / q(x)); on rejection a token
 *       is drawn from normalize(max(0, p - q)) and the step ends; when all k are accepted a bonus token is
 *       drawn from p at position k. p is exactly what {@link StochasticSampler} would draw from (temperature,
 *       top-k, top-p), so the output is distributed as the target alone would produce it.</li>
 * </ul>
 * Plain draws from p (the bonus token, and any step without drafts) use a {@link StochasticSampler} seeded
 * with the sequence's seed, so a run without speculation reproduces the non-speculative generator token for
 * token; acceptance coins and residual draws come from a second generator derived from the same seed.
 *
 * <p>Works on a row range of a {@link StageOutput}, so the pipeline's last stage calls it on its own output.
 * One instance per sequence (it owns that sequence's random state); allocates nothing per call.
 */
public final class AcceptanceTest {

    /** Mixed into the sequence's seed for the acceptance coins, so they differ from the sampler's stream. */
    private static final long COIN_SEED_SALT = 0x5DEECE66DL;

    private final SamplerSettings settings;
    private final int vocab;
    private final boolean greedy;
    private final StochasticSampler plainSampler;
    private final SamplingDistribution distribution;
    private final XorShiftRandom coins;
    private final float[] p;
    private final float[] scratch;

    public AcceptanceTest(SamplerSettings settings, int vocab) {
        this.settings = settings;
        this.vocab = vocab;
        this.greedy = settings.isGreedy();
        this.plainSampler = greedy ? null : new StochasticSampler(settings, vocab);
        this.distribution = greedy ? null : new SamplingDistribution(settings, vocab);
        this.coins = new XorShiftRandom(settings.seed() * 31 + COIN_SEED_SALT);
        this.p = greedy ? null : new float[vocab];
        this.scratch = new float[vocab];
    }

    public SamplerSettings settings() { return settings; }

    /**
     * Verifies {@code draft} against rows [firstRow, firstRow + draft.count()] of {@code out} (all with logits, or
     * for greedy settings, all with their greedy token: {@link dev.tandem.engine.llama.RowOutput#GREEDY_TOKEN}): row i holds the target's logits for the token after draft token i - 1 (row 0: after the last
     * committed token). Writes the output tokens into {@code accepted} and returns how many: the accepted
     * drafts followed by the target's correction or bonus token, so always 1 to draft.count() + 1.
     */
    public int verify(StageOutput out, int firstRow, Draft draft, int[] accepted) {
        int k = draft.count();
        if (out.vocabSize() != vocab) throw new IllegalArgumentException("logits of " + out.vocabSize() + " tokens, expected " + vocab);
        if (greedy) {
            if (draft.vocab() != vocab) throw new IllegalArgumentException("draft over " + draft.vocab() + " tokens, expected " + vocab);
            return verifyGreedy(i -> out.argmax(firstRow + i), draft, accepted);
        }
        int first = out.logitsOffset(firstRow);
        for (int i = 1; i <= k; i++) {
            if (out.logitsOffset(firstRow + i) != first + i * vocab) {
                throw new IllegalArgumentException("rows " + firstRow + ".." + (firstRow + k) + " must all have logits");
            }
        }
        return verify(out.logits(), first, draft, accepted);
    }

    /** As {@link #verify(StageOutput, int, Draft, int[])} on k + 1 consecutive logit rows starting at {@code off}. */
    public int verify(float[] logits, int off, Draft draft, int[] accepted) {
        if (draft.vocab() != vocab) throw new IllegalArgumentException("draft over " + draft.vocab() + " tokens, expected " + vocab);
        return greedy ? verifyGreedy(i -> GreedySampler.argmax(logits, off + i * vocab, vocab), draft, accepted)
                : verifySampled(logits, off, draft, accepted);
    }

    /** Drafts accepted while each equals the target's argmax at its row ({@code argmax} of row index i). */
    private static int verifyGreedy(IntUnaryOperator argmax, Draft draft, int[] accepted) {
        int k = draft.count();
        for (int i = 0; i < k; i++) {
            accepted[i] = argmax.applyAsInt(i);
            if (accepted[i] != draft.token(i)) return i + 1;
        }
        accepted[k] = argmax.applyAsInt(k);
        return k + 1;
    }

    private int verifySampled(float[] logits, int off, Draft draft, int[] accepted) {
        int k = draft.count();
        for (int i = 0; i < k; i++) {
            distribution.compute(logits, off + i * vocab, vocab, p, 0);
            int x = draft.token(i);
            float qx = draft.q(i, x);
            if (qx <= 0f) throw new IllegalStateException("draft token " + x + " has q = 0: it was not drawn from q");
            // Accept with probability min(1, p/q): coin < p/q, written without the division.
            if (coins.nextFloat() * qx < p[x]) {
                accepted[i] = x;
                continue;
            }
            accepted[i] = drawResidual(draft, i);
            return i + 1;
        }
        System.arraycopy(logits, off + k * vocab, scratch, 0, vocab); // the sampler overwrites its input
        accepted[k] = plainSampler.sample(scratch, 0, vocab);
        return k + 1;
    }

    /** A draw from normalize(max(0, p - q)) for draft position i; p is in {@link #p}. */
    private int drawResidual(Draft draft, int i) {
        float mass = 0f;
        if (draft.isOneHot(i)) {
            System.arraycopy(p, 0, scratch, 0, vocab);
            int x = draft.token(i);
            scratch[x] = Math.max(0f, p[x] - 1f);
            for (int t = 0; t < vocab; t++) mass += scratch[t];
        } else {
            float[] q = draft.probabilities();
            int qOff = i * vocab;
            for (int t = 0; t < vocab; t++) {
                float r = p[t] - q[qOff + t];
                r = r > 0f ? r : 0f;
                scratch[t] = r;
                mass += r;
            }
        }
        // p == q up to rounding: a rejection had (almost) no probability; p itself is then the residual.
        if (!(mass > 0f)) return SamplingDistribution.draw(p, 0, vocab, coins.nextFloat());
        return SamplingDistribution.draw(scratch, 0, vocab, coins.nextFloat() * mass);
    }
}
