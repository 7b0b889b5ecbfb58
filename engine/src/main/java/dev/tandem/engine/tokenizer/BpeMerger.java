package dev.tandem.engine.tokenizer;

import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * The merge phase of SentencePiece-style BPE: repeatedly replace the adjacent pair whose
 * concatenation is a vocabulary piece with the highest score (ties: the leftmost pair) until no
 * pair merges. This is llama2.c's greedy loop, done in O(n log n) instead of O(n^2) with a doubly
 * linked list of tokens and a priority queue of candidate pairs. A candidate goes stale once
 * either of its tokens is merged away; stale ones are skipped when popped. The live candidates are
 * always exactly the current mergeable pairs, and list nodes keep their original index, so the
 * pop order (score, then position) is the greedy loop's choice at every step.
 */
final class BpeMerger {

    /** Merge lookup: the id of the piece {@code left + right}, or -1 when there is none. */
    @FunctionalInterface
    interface PairLookup {
        int merged(int leftId, int rightId);
    }

    /** llama2.c starts its best-score search here, so merges scoring at most this never happen. */
    static final float MIN_MERGE_SCORE = -1e10f;

    private record Candidate(float score, int left, int right, int leftId, int rightId, int mergedId)
            implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate o) {
            int byScore = Float.compare(o.score, score);
            return byScore != 0 ? byScore : Integer.compare(left, o.left);
        }
    }

    private final PairLookup lookup;
    private final float[] scores;

    BpeMerger(PairLookup lookup, float[] scores) {
        this.lookup = lookup;
        this.scores = scores;
    }

    /** The merged form of {@code tokens} (which is not modified). */
    int[] merge(int[] tokens) {
        int n = tokens.length;
        if (n < 2) return tokens.clone();
        int[] ids = tokens.clone();
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] removed = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) offer(queue, ids, i, i + 1);

        int remaining = n;
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            boolean stale = removed[c.left] || removed[c.right] || next[c.left] != c.right
                    || ids[c.left] != c.leftId || ids[c.right] != c.rightId;
            if (stale) continue;
            ids[c.left] = c.mergedId;
            removed[c.right] = true;
            remaining--;
            int after = next[c.right];
            next[c.left] = after;
            if (after >= 0) prev[after] = c.left;
            if (prev[c.left] >= 0) offer(queue, ids, prev[c.left], c.left);
            if (after >= 0) offer(queue, ids, c.left, after);
        }

        int[] out = new int[remaining];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) out[k++] = ids[i];
        assert k == remaining : Arrays.toString(out);
        return out;
    }

    private void offer(PriorityQueue<Candidate> queue, int[] ids, int left, int right) {
        int merged = lookup.merged(ids[left], ids[right]);
        if (merged >= 0 && scores[merged] > MIN_MERGE_SCORE) {
            queue.add(new Candidate(scores[merged], left, right, ids[left], ids[right], merged));
        }
    }
}
