package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.Arrays;

/**
 * Turns a recorded teacher (top-k logits and the log-normalizer) into a distribution over a draft's
 * reduced vocabulary V.
 *
 * <p>Top-k tokens get exp(logit - logNormalizer). The residual mass r = 1 - (their sum) belongs to the
 * other N - k target tokens, whose logits were not kept; it is spread uniformly over them (the least
 * informative completion, and it keeps p > 0 everywhere, which reverse KL needs). A token of V gets its
 * top-k probability or r / (N - k); whatever lies outside V (top-k tokens the draft cannot produce and
 * their share of r) is returned as the outside mass, which the divergences treat as constant.
 */
public final class TeacherDistribution {

    private TeacherDistribution() {}

    /** Fills p[0 .. V.size()) for position index i of the sample; returns the mass outside V. */
    public static double project(DistillationSample s, int i, ReducedVocabulary v, double[] p) {
        int k = s.topK();
        int n = v.targetVocabSize();
        int off = i * k;
        double logZ = s.logNormalizers()[i];
        double top = 0;
        for (int j = 0; j < k; j++) top += Math.exp(s.teacherLogits()[off + j] - logZ);
        double residual = Math.max(0, 1 - top);
        double spread = n > k ? residual / (n - k) : 0;
        Arrays.fill(p, 0, v.size(), spread);
        for (int j = 0; j < k; j++) {
            int row = v.indexOf(s.teacherIds()[off + j]);
            if (row >= 0) p[row] = Math.exp(s.teacherLogits()[off + j] - logZ);
        }
        double inside = 0;
        for (int j = 0; j < v.size(); j++) inside += p[j];
        return Math.max(0, 1 - inside);
    }

    /**
     * As {@link #project(DistillationSample, int, ReducedVocabulary, double[])} for the teacher sharpened to
     * p^(1/T) and renormalized over the whole vocabulary (each of the N - k tokens outside the top-k keeps an
     * equal share of the residual, so each is raised as (r / (N - k))^(1/T)). T = 1 is the teacher itself.
     */
    public static double project(DistillationSample s, int i, ReducedVocabulary v, double[] p, double temperature) {
        if (temperature == 1.0) return project(s, i, v, p);
        int k = s.topK();
        int n = v.targetVocabSize();
        int off = i * k;
        double logZ = s.logNormalizers()[i];
        double inv = 1 / temperature;
        double top = 0;
        double sharpTop = 0;
        for (int j = 0; j < k; j++) {
            double lp = s.teacherLogits()[off + j] - logZ;
            top += Math.exp(lp);
            sharpTop += Math.exp(lp * inv);
        }
        double residual = Math.max(0, 1 - top);
        double each = n > k && residual > 0 ? Math.pow(residual / (n - k), inv) : 0;
        double norm = sharpTop + (n - k) * each;
        Arrays.fill(p, 0, v.size(), each / norm);
        for (int j = 0; j < k; j++) {
            int row = v.indexOf(s.teacherIds()[off + j]);
            if (row >= 0) p[row] = Math.exp((s.teacherLogits()[off + j] - logZ) * inv) / norm;
        }
        double inside = 0;
        for (int j = 0; j < v.size(); j++) inside += p[j];
        return Math.max(0, 1 - inside);
    }
}
