package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

/**
 * Prompt lookup, training-free: proposes what followed the sequence's last tokens before.
 * <ol>
 *   <li>In the sequence's own history: the most recent earlier occurrence of its last n tokens (n from
 *       {@link #MAX_NGRAM} down to {@link #MIN_RELIABLE_NGRAM}), and the tokens that followed it.</li>
 *   <li>Else, when the proposer shares an {@link NgramTable} with other sequences: a chain of predictions
 *       from what followed the same short contexts in the traffic served so far.</li>
 *   <li>Else a single-token match in the own history.</li>
 * </ol>
 * No forward pass; proposals are certain (q one-hot), which the sampling acceptance test handles exactly.
 */
public final class NgramProposer implements Proposer {

    public static final String NAME = "ngram";
    public static final int MAX_NGRAM = 3;
    /** Shorter own-history matches are tried only after the shared table. */
    public static final int MIN_RELIABLE_NGRAM = 2;
    /** Contexts shorter than this are not trusted from the shared table. */
    public static final int MIN_TABLE_CONTEXT = 1;

    private final NgramTable table;
    private final int minReliableNgram;
    private final int minTableContext;
    private int learned;
    private int[] context = new int[NgramTable.MAX_CONTEXT + 16];

    /** Own-history lookup only. */
    public NgramProposer() {
        this(null);
    }

    /** Own-history lookup, then {@code table} (shared with other sequences; may be null). */
    public NgramProposer(NgramTable table) {
        this(table, MIN_RELIABLE_NGRAM, MIN_TABLE_CONTEXT);
    }

    /**
     * @param minReliableNgram own-history matches at least this long are tried before the table
     * @param minTableContext  shortest context trusted from the table
     */
    public NgramProposer(NgramTable table, int minReliableNgram, int minTableContext) {
        if (minReliableNgram < 1 || minReliableNgram > MAX_NGRAM) throw new IllegalArgumentException("bad n-gram length " + minReliableNgram);
        if (minTableContext < 1 || minTableContext > NgramTable.MAX_CONTEXT) throw new IllegalArgumentException("bad context " + minTableContext);
        this.table = table;
        this.minReliableNgram = minReliableNgram;
        this.minTableContext = minTableContext;
    }

    @Override
    public String name() { return NAME; }

    @Override
    public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
        int[] h = history.array();
        int length = history.length();
        if (table != null && learned < length) {
            table.learnRange(h, learned, length);
            learned = length;
        }
        if (maxDrafts <= 0) return;
        if (lookupOwnHistory(h, length, MAX_NGRAM, minReliableNgram, maxDrafts, draft)) return;
        if (table != null && chainFromTable(h, length, maxDrafts, draft)) return;
        lookupOwnHistory(h, length, minReliableNgram - 1, 1, maxDrafts, draft);
    }

    private static boolean lookupOwnHistory(int[] h, int length, int maxN, int minN, int maxDrafts, Draft draft) {
        for (int n = Math.min(maxN, length - 1); n >= minN; n--) {
            int match = lastOccurrence(h, length, n);
            if (match < 0) continue;
            int from = match + n;
            int to = Math.min(from + maxDrafts, length);
            for (int i = from; i < to; i++) draft.addCertain(h[i]);
            return true;
        }
        return false;
    }

    private boolean chainFromTable(int[] h, int length, int maxDrafts, Draft draft) {
        int keep = Math.min(NgramTable.MAX_CONTEXT, length);
        if (context.length < keep + maxDrafts) context = new int[keep + maxDrafts];
        System.arraycopy(h, length - keep, context, 0, keep);
        int end = keep;
        for (int j = 0; j < maxDrafts; j++) {
            int next = table.predict(context, end, minTableContext);
            if (next < 0 || next >= draft.vocab()) break;
            draft.addCertain(next);
            context[end++] = next;
        }
        return draft.count() > 0;
    }

    /** Start of the latest occurrence of h[length - n, length) that ends before length - 1, or -1. */
    private static int lastOccurrence(int[] h, int length, int n) {
        int suffix = length - n;
        for (int start = suffix - 1; start >= 0; start--) {
            int i = 0;
            while (i < n && h[start + i] == h[suffix + i]) i++;
            if (i == n) return start;
        }
        return -1;
    }

    /** Proposers that share one {@link NgramTable}, so each sequence benefits from the traffic before it. */
    public static ProposerFactory factory() {
        NgramTable table = new NgramTable();
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) { return new NgramProposer(table); }
        };
    }
}
