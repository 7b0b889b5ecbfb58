package dev.tandem.trainer.bootstrap;

import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.Collection;

/**
 * Chooses a draft's reduced vocabulary from recorded traffic: the lowest {@code baseTokens} ids (special
 * and byte tokens, so any text can still be drafted) plus the tokens the target produced most often
 * (committed tokens and the teacher's top candidates at recorded positions), up to {@code headTokens}.
 */
public final class DraftVocabularies {

    /** Teacher candidates beyond the argmax that count, with a lower weight than committed tokens. */
    private static final int CANDIDATES_COUNTED = 4;

    private DraftVocabularies() {}

    public static ReducedVocabulary fromSamples(Collection<DistillationSample> samples, int headTokens, int baseTokens, int targetVocab) {
        double[] score = new double[targetVocab];
        for (DistillationSample s : samples) {
            for (int i = 0; i < s.positionCount(); i++) {
                score[s.tokens()[s.positions()[i]]] += 1;
                int off = i * s.topK();
                for (int j = 0; j < Math.min(CANDIDATES_COUNTED, s.topK()); j++) score[s.teacherIds()[off + j]] += 0.25;
            }
        }
        int base = Math.min(baseTokens, Math.min(headTokens, targetVocab));
        int extra = Math.max(0, headTokens - base);
        Integer[] order = new Integer[targetVocab - base];
        for (int t = base; t < targetVocab; t++) order[t - base] = t;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(score[b], score[a]));
        int n = 0;
        int[] chosen = new int[extra];
        for (int i = 0; i < order.length && n < extra && score[order[i]] > 0; i++) chosen[n++] = order[i];
        return ReducedVocabulary.of(java.util.Arrays.copyOf(chosen, n), base, targetVocab);
    }
}
