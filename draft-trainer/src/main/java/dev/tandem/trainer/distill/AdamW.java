package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftLayerParameters;
import dev.tandem.engine.draft.DraftParameters;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter): Adam moments with bias correction, and weight decay applied to the weights
 * directly (decoupled from the gradient), on matrices only (norm gains are not decayed). Before each step the
 * gradients are clipped to a global L2 norm. The token embedding is updated sparsely: only rows with a
 * gradient in this step move (their moments too), as the embedding spans the target's whole vocabulary.
 */
public final class AdamW {

    /**
     * @param learningRate step size
     * @param beta1        decay of the first moment
     * @param beta2        decay of the second moment
     * @param epsilon      added to the root of the second moment
     * @param weightDecay  decoupled decay per step, times the learning rate
     * @param clipNorm     global gradient norm cap (0 = no clipping)
     */
    public record Settings(double learningRate, double beta1, double beta2, double epsilon, double weightDecay, double clipNorm) {
        public Settings {
            if (!(learningRate > 0) || beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || !(epsilon > 0) || weightDecay < 0 || clipNorm < 0) {
                throw new IllegalArgumentException("bad AdamW settings " + this);
            }
        }
    }

    private final Settings settings;
    private final DraftConfig config;
    private final boolean trainEmbedding;
    private final Map<float[], float[]> firstMoment = new IdentityHashMap<>();
    private final Map<float[], float[]> secondMoment = new IdentityHashMap<>();
    /** A moments array no longer in use, reused by {@link #moveRows}. */
    private float[] spareMoments;
    private long steps;

    public AdamW(DraftConfig config, Settings settings, boolean trainEmbedding) {
        this.config = config;
        this.settings = settings;
        this.trainEmbedding = trainEmbedding;
    }

    public long steps() { return steps; }

    /** Clips, then applies one update to {@code p} from {@code g}; returns the gradient norm before clipping. */
    public double step(DraftParameters p, DraftGradients g) {
        double norm = g.norm();
        if (settings.clipNorm() > 0 && norm > settings.clipNorm()) g.scale((float) (settings.clipNorm() / norm));
        steps++;
        double lr = settings.learningRate();
        double correction1 = 1 - Math.pow(settings.beta1(), steps);
        double correction2 = 1 - Math.pow(settings.beta2(), steps);
        DraftParameters grads = g.values();
        if (trainEmbedding) {
            int dim = config.dim();
            BitSet rows = g.touchedRows();
            for (int row = rows.nextSetBit(0); row >= 0; row = rows.nextSetBit(row + 1)) {
                update(p.embedding(), grads.embedding(), row * dim, (row + 1) * dim, true, lr, correction1, correction2);
            }
        }
        List<float[]> params = dense(p);
        List<float[]> gradients = dense(grads);
        List<Boolean> decays = decays(p);
        for (int i = 0; i < params.size(); i++) {
            update(params.get(i), gradients.get(i), 0, params.get(i).length, decays.get(i), lr, correction1, correction2);
        }
        return norm;
    }

    /**
     * Rearranges the moments of {@code array}'s rows ({@code width} values each) after its rows were: row r now holds
     * what row {@code sources[r]} held, or (at -1) a fresh row whose moments start at zero.
     */
    public void moveRows(float[] array, int[] sources, int width) {
        for (Map<float[], float[]> moments : List.of(firstMoment, secondMoment)) {
            float[] before = moments.get(array);
            if (before == null) continue;
            // The moments' old array becomes the spare of the next move: online, the head's rows move at every
            // evaluation, and two head-sized arrays per move were garbage on the serving node.
            float[] after = spareMoments != null && spareMoments.length == before.length ? spareMoments : new float[before.length];
            java.util.Arrays.fill(after, 0f);
            for (int r = 0; r < sources.length; r++) {
                if (sources[r] >= 0) System.arraycopy(before, sources[r] * width, after, r * width, width);
            }
            moments.put(array, after);
            spareMoments = before;
        }
    }

    private void update(float[] w, float[] grad, int from, int to, boolean decay, double lr, double c1, double c2) {
        float[] m = firstMoment.computeIfAbsent(w, k -> new float[k.length]);
        float[] v = secondMoment.computeIfAbsent(w, k -> new float[k.length]);
        float b1 = (float) settings.beta1();
        float b2 = (float) settings.beta2();
        float stepSize = (float) (lr / c1);
        float rootCorrection = (float) Math.sqrt(c2);
        float eps = (float) settings.epsilon();
        float shrink = decay ? (float) (1 - lr * settings.weightDecay()) : 1f;
        for (int i = from; i < to; i++) {
            float gi = grad[i];
            float mi = b1 * m[i] + (1 - b1) * gi;
            float vi = b2 * v[i] + (1 - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] * shrink - stepSize * mi / ((float) Math.sqrt(vi) / rootCorrection + eps);
        }
    }

    /** Every array but the embedding, in a fixed order. */
    private static List<float[]> dense(DraftParameters p) {
        List<float[]> all = new ArrayList<>();
        for (DraftLayerParameters l : p.layers()) {
            all.add(l.attnNorm());
            all.add(l.wq());
            all.add(l.wk());
            all.add(l.wv());
            all.add(l.wo());
            all.add(l.ffnNorm());
            all.add(l.w1());
            all.add(l.w2());
            all.add(l.w3());
        }
        all.add(p.finalNorm());
        all.add(p.output());
        return all;
    }

    private static List<Boolean> decays(DraftParameters p) {
        List<Boolean> all = new ArrayList<>();
        for (int l = 0; l < p.layers().size(); l++) all.addAll(List.of(false, true, true, true, true, false, true, true, true));
        all.add(false);
        all.add(true);
        return all;
    }
}
