package dev.tandem.trainer.sample;

import java.util.Arrays;

/**
 * What verification taught about one sequence: its committed tokens, and at some positions the target's
 * distribution for the token there (the teacher), so the teacher never has to run again.
 *
 * <p>Position {@code positions[i]} was predicted by the target from {@code tokens[0 .. positions[i])};
 * its teacher is the top-k logits {@code teacherIds/teacherLogits[i * k .. (i + 1) * k)} (sorted by logit,
 * highest first, ties to the lower id, so entry 0 is the greedy token) and the log of the softmax
 * normalizer over the whole target vocabulary, {@code logNormalizers[i]}; the probability of a top-k token
 * is exp(logit - logNormalizer), and the rest of the mass (1 minus their sum) is spread over the other
 * tokens. {@code rejected[i]} says the draft proposed a token at that position and the target rejected it.
 *
 * @param trafficClass the traffic class of the request
 * @param createdMillis when it was recorded (epoch milliseconds)
 * @param tokens       committed tokens of the sequence (BOS first), at least up to the last position
 * @param positions    increasing positions with a teacher, each >= 1 and < tokens.length
 */
public record DistillationSample(String trafficClass, long createdMillis, int[] tokens, int[] positions, int topK,
                                 int[] teacherIds, float[] teacherLogits, float[] logNormalizers, boolean[] rejected) {

    /** Object headers and references, roughly, for memory accounting. */
    private static final long OVERHEAD_BYTES = 160;

    public DistillationSample {
        int n = positions.length;
        if (topK < 1) throw new IllegalArgumentException("top-k must be >= 1");
        if (teacherIds.length != n * topK || teacherLogits.length != n * topK || logNormalizers.length != n || rejected.length != n) {
            throw new IllegalArgumentException("teacher arrays do not match " + n + " positions x top-" + topK);
        }
        for (int i = 0; i < n; i++) {
            if (positions[i] < 1 || positions[i] >= tokens.length || (i > 0 && positions[i] <= positions[i - 1])) {
                throw new IllegalArgumentException("bad position " + positions[i] + " for " + tokens.length + " tokens");
            }
        }
    }

    public int positionCount() { return positions.length; }

    /** The greedy (argmax) token of the teacher at position index i. */
    public int teacherArgmax(int i) { return teacherIds[i * topK]; }

    /** Tokens the draft must read to predict every recorded position: up to the last one, exclusive. */
    public int contextLength() { return positions.length == 0 ? 0 : positions[positions.length - 1]; }

    /** Approximate heap bytes, for the replay buffer's memory bound. */
    public long bytes() {
        return OVERHEAD_BYTES + 4L * tokens.length + 4L * positions.length + 8L * teacherIds.length + 4L * logNormalizers.length
                + rejected.length;
    }

    /** Positions [from, to) of this sample's index range, as a sample of their own (shares nothing). */
    public DistillationSample slice(int from, int to) {
        int k = topK;
        return new DistillationSample(trafficClass, createdMillis, Arrays.copyOf(tokens, positions[to - 1] + 1),
                Arrays.copyOfRange(positions, from, to), k, Arrays.copyOfRange(teacherIds, from * k, to * k),
                Arrays.copyOfRange(teacherLogits, from * k, to * k), Arrays.copyOfRange(logNormalizers, from, to),
                Arrays.copyOfRange(rejected, from, to));
    }
}
