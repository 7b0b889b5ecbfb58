package dev.tandem.trainer.distill;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Tiny draft configurations and synthetic teacher samples for the distiller's tests. */
public final class TinyDrafts {

    private TinyDrafts() {}

    /** Two layers, grouped-query attention (2 query heads per key/value head), a reduced head. */
    public static DraftConfig gqaConfig() {
        return new DraftConfig(8, 12, 2, 4, 2, 20, 12, 10, 1e-5f, 10000f);
    }

    /** {@code size} ids: the first half of them, then even ids above, then odd ones, so some teacher tokens fall outside. */
    public static ReducedVocabulary reducedVocabulary(int size, int vocab) {
        java.util.TreeSet<Integer> ids = new java.util.TreeSet<>();
        for (int t = 0; t < size / 2; t++) ids.add(t);
        for (int t = size / 2; t < vocab && ids.size() < size; t++) if (t % 2 == 0) ids.add(t);
        for (int t = size / 2; t < vocab && ids.size() < size; t++) ids.add(t);
        return new ReducedVocabulary(ids.stream().mapToInt(Integer::intValue).toArray(), vocab);
    }

    /** Random logits per position over the full vocabulary become top-k teachers. */
    public static DistillationSample randomSample(SplittableRandom r, int vocab, int length, int topK) {
        int[] tokens = new int[length];
        for (int i = 0; i < length; i++) tokens[i] = r.nextInt(vocab);
        List<Integer> pos = new ArrayList<>();
        for (int p = 1; p < length; p++) if (r.nextInt(3) > 0) pos.add(p);
        if (pos.isEmpty()) pos.add(length - 1);
        int n = pos.size();
        int[] positions = pos.stream().mapToInt(Integer::intValue).toArray();
        int[] ids = new int[n * topK];
        float[] logits = new float[n * topK];
        float[] logZ = new float[n];
        boolean[] rejected = new boolean[n];
        float[] full = new float[vocab];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < vocab; t++) full[t] = (float) (r.nextDouble() * 4 - 2);
            recordTopK(full, 0, vocab, topK, ids, logits, i * topK);
            logZ[i] = (float) logSumExp(full, 0, vocab);
            rejected[i] = r.nextBoolean();
        }
        return new DistillationSample("test", 0, tokens, positions, topK, ids, logits, logZ, rejected);
    }

    /** Greedy continuations of random prompts by a teacher model, with every generated position recorded. */
    public static List<DistillationSample> teacherSamples(DraftModel teacher, int count, int promptLength, int length, int topK, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        DraftForward forward = new DraftForward(teacher.config());
        int vocab = teacher.config().vocabSize();
        int head = teacher.config().headSize();
        List<DistillationSample> out = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            int[] tokens = new int[length];
            for (int i = 0; i < promptLength; i++) tokens[i] = r.nextInt(vocab);
            int n = length - promptLength;
            int[] positions = new int[n];
            int[] ids = new int[n * topK];
            float[] logits = new float[n * topK];
            float[] logZ = new float[n];
            float[] full = new float[vocab];
            for (int pos = promptLength; pos < length; pos++) {
                float[] l = forward.logits(teacher, tokens, pos, new int[]{pos - 1}, 1);
                Arrays.fill(full, -30f);
                for (int j = 0; j < head; j++) full[teacher.vocabulary().tokenAt(j)] = l[j];
                int i = pos - promptLength;
                positions[i] = pos;
                recordTopK(full, 0, vocab, topK, ids, logits, i * topK);
                logZ[i] = (float) logSumExp(full, 0, vocab);
                tokens[pos] = ids[i * topK];
            }
            out.add(new DistillationSample("test", 0, tokens, positions, topK, ids, logits, logZ, new boolean[n]));
        }
        return out;
    }

    static void recordTopK(float[] full, int off, int vocab, int k, int[] ids, float[] logits, int outOff) {
        Integer[] order = new Integer[vocab];
        for (int t = 0; t < vocab; t++) order[t] = t;
        Arrays.sort(order, (a, b) -> full[off + a] != full[off + b] ? Float.compare(full[off + b], full[off + a]) : Integer.compare(a, b));
        for (int j = 0; j < k; j++) {
            ids[outOff + j] = order[j];
            logits[outOff + j] = full[off + order[j]];
        }
    }

    static double logSumExp(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double s = 0;
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - max);
        return max + Math.log(s);
    }
}
