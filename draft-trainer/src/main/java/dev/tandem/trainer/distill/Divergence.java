package dev.tandem.trainer.distill;

import java.util.Locale;

/**
 * A divergence between the teacher's distribution p and the draft's q, with its gradient with respect to
 * the draft's logits z (q = softmax(z) over the draft's reduced vocabulary V).
 *
 * <p>Support. The draft can only produce tokens of V, so q lives on V. The teacher's p is given on V
 * (see {@link TeacherDistribution#project}) and its mass outside V, {@code pOutside}, is mass the draft
 * cannot produce: it enters each divergence as a constant (or is dropped where the divergence is
 * defined through p's support), so it shifts the loss but never the gradient.
 * <ul>
 *   <li>{@link #FORWARD_KL}: P_in KL(p / P_in || q) with P_in = 1 - p_out, i.e. the KL to the teacher
 *       restricted to V and renormalized, weighted by how much of the teacher V covers (the outside term
 *       p_out log(p_out / 0) of the plain KL is infinite and constant). Mode-covering; the usual
 *       distillation loss.</li>
 *   <li>{@link #REVERSE_KL}: sum over V of q log(q / p). Mode-seeking.</li>
 *   <li>{@link #JENSEN_SHANNON}: the true JSD with the mixture m = (p + q) / 2 over V plus the outside
 *       bin (where q = 0, contributing (p_out / 2) log 2), bounded by log 2.</li>
 *   <li>{@link #TOTAL_VARIATION}: (1/2) sum |p - q| including the outside bin; 1 - TVD is exactly the
 *       acceptance probability of speculative sampling, so this is what acceptance optimizes.</li>
 * </ul>
 * Gradients are computed as dL/dq then through the softmax: dL/dz_j = q_j (dL/dq_j - sum_i q_i dL/dq_i).
 */
public enum Divergence {
    FORWARD_KL {
        @Override
        double lossAndGradient(double[] p, double pOutside, double[] q, int n, double[] dq) {
            // P_in KL(p / P_in || q) with P_in = 1 - pOutside: >= 0, and the same gradient as sum p log(p / q).
            double inside = 1 - pOutside;
            double loss = inside > 0 ? -inside * Math.log(inside) : 0;
            for (int j = 0; j < n; j++) {
                double pj = p[j];
                if (pj > 0) loss += pj * (Math.log(pj) - Math.log(Math.max(q[j], TINY)));
                dq[j] = -pj / Math.max(q[j], TINY);
            }
            return loss;
        }

        /**
         * The same loss and gradient in closed form, which a training step spends most of its elementwise time on:
         * log q from the log-softmax (one log per position instead of one per entry, and exact where q underflows),
         * log p once per run of equal values (the teacher's residual share fills most of V), and
         * dL/dz_j = S q_j - p_j with S the teacher's mass on V.
         */
        @Override
        public double loss(double[] p, double pOutside, float[] logits, int off, int n, double weight, float[] dLogits, int dOff,
                           double[] q, double[] dq) {
            double max = max(logits, off, n);
            double sum = exponentials(logits, off, n, max, q);
            double logSum = Math.log(sum);
            double inside = 1 - pOutside;
            double loss = inside > 0 ? -inside * Math.log(inside) : 0;
            double mass = 0;
            double lastP = -1;
            double lastLogP = 0;
            for (int j = 0; j < n; j++) {
                double pj = p[j];
                mass += pj;
                if (pj > 0) {
                    if (pj != lastP) {
                        lastP = pj;
                        lastLogP = Math.log(pj);
                    }
                    loss += pj * (lastLogP - (logits[off + j] - max - logSum));
                }
            }
            for (int j = 0; j < n; j++) dLogits[dOff + j] = (float) (weight * (mass * (q[j] / sum) - p[j]));
            return loss;
        }
    },
    REVERSE_KL {
        @Override
        double lossAndGradient(double[] p, double pOutside, double[] q, int n, double[] dq) {
            double loss = 0;
            for (int j = 0; j < n; j++) {
                double logRatio = Math.log(Math.max(q[j], TINY)) - Math.log(Math.max(p[j], TINY));
                loss += q[j] * logRatio;
                dq[j] = logRatio + 1;
            }
            return loss;
        }
    },
    JENSEN_SHANNON {
        @Override
        double lossAndGradient(double[] p, double pOutside, double[] q, int n, double[] dq) {
            double loss = 0.5 * pOutside * Math.log(2);
            for (int j = 0; j < n; j++) {
                double pj = p[j];
                double qj = Math.max(q[j], TINY);
                double m = 0.5 * (pj + qj);
                if (pj > 0) loss += 0.5 * pj * Math.log(pj / m);
                loss += 0.5 * qj * Math.log(qj / m);
                dq[j] = 0.5 * Math.log(qj / m);
            }
            return loss;
        }
    },
    TOTAL_VARIATION {
        @Override
        double lossAndGradient(double[] p, double pOutside, double[] q, int n, double[] dq) {
            double loss = 0.5 * pOutside;
            for (int j = 0; j < n; j++) {
                double d = q[j] - p[j];
                loss += 0.5 * Math.abs(d);
                dq[j] = 0.5 * Math.signum(d);
            }
            return loss;
        }
    };

    /** Floor for probabilities inside logarithms (float logits can underflow a softmax to 0). */
    static final double TINY = 1e-30;

    /** Loss and dL/dq over the n entries of V; p holds the teacher on V, q the draft's softmax. */
    abstract double lossAndGradient(double[] p, double pOutside, double[] q, int n, double[] dq);

    /**
     * Loss at one position, and the gradient with respect to the draft's logits scaled by {@code weight}
     * written to {@code dLogits[dOff ..]}. {@code q} and {@code dq} are scratch of at least n doubles.
     */
    public double loss(double[] p, double pOutside, float[] logits, int off, int n, double weight, float[] dLogits, int dOff,
                       double[] q, double[] dq) {
        softmax(logits, off, n, q);
        double loss = lossAndGradient(p, pOutside, q, n, dq);
        double mean = 0;
        for (int j = 0; j < n; j++) mean += q[j] * dq[j];
        for (int j = 0; j < n; j++) dLogits[dOff + j] = (float) (weight * q[j] * (dq[j] - mean));
        return loss;
    }

    /** The draft's distribution over V, in double. */
    public static void softmax(float[] logits, int off, int n, double[] q) {
        double sum = exponentials(logits, off, n, max(logits, off, n), q);
        for (int j = 0; j < n; j++) q[j] /= sum;
    }

    private static double max(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, logits[off + j]);
        return max;
    }

    /** q[j] = exp(logit j - max) over the n logits; returns their sum. */
    private static double exponentials(float[] logits, int off, int n, double max, double[] q) {
        double sum = 0;
        for (int j = 0; j < n; j++) {
            double e = Math.exp(logits[off + j] - max);
            q[j] = e;
            sum += e;
        }
        return sum;
    }

    /** Parses {@code forward-kl}, {@code reverse-kl}, {@code jsd} / {@code jensen-shannon}, {@code tvd} / {@code total-variation}. */
    public static Divergence parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "forward-kl", "kl", "fkl" -> FORWARD_KL;
            case "reverse-kl", "rkl" -> REVERSE_KL;
            case "jsd", "jensen-shannon", "js" -> JENSEN_SHANNON;
            case "tvd", "total-variation", "tv" -> TOTAL_VARIATION;
            default -> throw new IllegalArgumentException("unknown divergence '" + name + "' (forward-kl, reverse-kl, jsd, tvd)");
        };
    }
}
