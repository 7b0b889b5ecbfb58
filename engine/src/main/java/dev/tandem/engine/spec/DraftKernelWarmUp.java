package dev.tandem.engine.spec;

import dev.tandem.engine.model.DraftWeights;
import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;

/**
 * JIT-compiles the drafting code (the Vector API kernels, a whole-model stage, the proposer) on a background
 * thread, with a throwaway random draft shaped like the target's layers, before the real proposals need it.
 *
 * <p>Why: a coordinator never runs the target itself, so nothing else compiles these kernels in its JVM, and
 * Vector API code is only fast once C2 has compiled it (about a thousand forwards). Until then each draft
 * token cost several pipeline steps; the draft-length controller, which weighs a draft token against a
 * step, then chose to draft nothing, and so the code never got hot. The warm-up has its own stage, cache and
 * runner, so it shares nothing but compiled code with the proposers in use.
 */
public final class DraftKernelWarmUp {

    /** The warm-up draft's vocabulary and head: small, the kernels do not care about the row count. */
    private static final int WARM_UP_VOCAB = 512;
    private static final int WARM_UP_HEAD = 256;
    /** Drafts per proposal, as a pipeline step would ask. */
    private static final int DRAFTS_PER_PROPOSAL = 4;
    private static final long SEED = 0x5EED;

    private DraftKernelWarmUp() {}

    /**
     * Starts a daemon thread of minimum priority that runs {@code forwards} draft forwards (or fewer if the
     * JVM is shutting down) over layers shaped like {@code target}'s, with {@code threads} compute threads, reading
     * the draft in {@code form} as the proposers it warms up for will.
     */
    public static Thread start(ModelConfig target, int threads, int forwards, DraftWeights form, String threadName) {
        Thread t = new Thread(() -> run(target, threads, forwards, form), threadName);
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
        return t;
    }

    /** Runs the warm-up on the calling thread; returns the forwards run. */
    public static int run(ModelConfig target, int threads, int forwards, DraftWeights form) {
        int seqLen = Math.min(target.seqLen(), 256);
        DraftConfig config = new DraftConfig(target.dim(), target.hiddenDim(), 1, target.nHeads(), target.nKvHeads(),
                WARM_UP_VOCAB, WARM_UP_HEAD, seqLen, target.normEps(), target.ropeTheta());
        DraftModel draft = DraftModel.random(config, ReducedVocabulary.firstTokens(WARM_UP_HEAD, WARM_UP_VOCAB), SEED);
        int done = 0;
        try (ParallelRunner runner = new ParallelRunner(threads)) {
            ProposerFactory factory = DraftModelProposer.factory(draft, WARM_UP_VOCAB, seqLen, runner, form);
            Draft scratch = new Draft(DRAFTS_PER_PROPOSAL, WARM_UP_VOCAB);
            long seqId = 1;
            while (done < forwards) {
                Proposer proposer = factory.open(seqId++, SamplerSettings.greedy());
                TokenHistory history = new TokenHistory(new int[] {1, 2, 3}, seqLen + 1);
                while (done < forwards && history.length() + DRAFTS_PER_PROPOSAL < seqLen) {
                    scratch.clear();
                    proposer.propose(history, DRAFTS_PER_PROPOSAL, false, scratch);
                    done += DRAFTS_PER_PROPOSAL;
                    // Accept all but the last draft and add a token of "the target's": the catch-up path runs too.
                    for (int i = 0; i + 1 < scratch.count(); i++) history.append(scratch.token(i));
                    history.append((history.length() * 31) % WARM_UP_HEAD);
                    proposer.observe(history, Math.max(0, scratch.count() - 1), scratch.count());
                }
                proposer.close();
            }
        }
        return done;
    }
}
