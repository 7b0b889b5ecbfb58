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
    private static final double CANDIDATE_WEIGHT = 0.25;

    private DraftVocabularies() {}

    /** A token enters a refreshed head only with at least this score: committed once, or four times a top candidate. */
    private static final double MIN_REFRESH_SCORE = 1.0;

    public static ReducedVocabulary fromSamples(Collection<DistillationSample> samples, int headTokens, int baseTokens, int targetVocab) {
        double[] score = scores(samples, targetVocab);
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

    /**
     * The head {@code current} adapted to a class's traffic at the same size: tokens the samples use (score at
     * least {@link #MIN_REFRESH_SCORE}) that the head lacks replace head tokens the samples never use, most used
     * first in, highest id first out (SentencePiece ids grow as merges get rarer); the lowest {@code baseTokens}
     * ids always stay. Returns {@code current} itself when nothing changes.
     */
    public static ReducedVocabulary refreshed(ReducedVocabulary current, Collection<DistillationSample> samples, int baseTokens) {
        int targetVocab = current.targetVocabSize();
        double[] score = scores(samples, targetVocab);
        java.util.List<Integer> missing = new java.util.ArrayList<>();
        for (int t = 0; t < targetVocab; t++) if (score[t] >= MIN_REFRESH_SCORE && current.indexOf(t) < 0) missing.add(t);
        if (missing.isEmpty()) return current;
        missing.sort((a, b) -> Double.compare(score[b], score[a]));
        java.util.List<Integer> unused = new java.util.ArrayList<>();
        for (int r = current.size() - 1; r >= 0; r--) {
            int t = current.tokenAt(r);
            if (t >= baseTokens && score[t] == 0) unused.add(t);
        }
        int swaps = Math.min(missing.size(), unused.size());
        if (swaps == 0) return current;
        boolean[] in = new boolean[targetVocab];
        for (int r = 0; r < current.size(); r++) in[current.tokenAt(r)] = true;
        for (int i = 0; i < swaps; i++) {
            in[unused.get(i)] = false;
            in[missing.get(i)] = true;
        }
        int[] ids = new int[current.size()];
        for (int t = 0, n = 0; t < targetVocab; t++) if (in[t]) ids[n++] = t;
        return new ReducedVocabulary(ids, targetVocab);
    }

    /** Committed tokens count 1, the teacher's top candidates 1/4 each. */
    private static double[] scores(Collection<DistillationSample> samples, int targetVocab) {
        double[] score = new double[targetVocab];
        for (DistillationSample s : samples) {
            for (int i = 0; i < s.positionCount(); i++) {
                score[s.tokens()[s.positions()[i]]] += 1;
                int off = i * s.topK();
                for (int j = 0; j < Math.min(CANDIDATES_COUNTED, s.topK()); j++) score[s.teacherIds()[off + j]] += CANDIDATE_WEIGHT;
            }
        }
        return score;
    }
}
