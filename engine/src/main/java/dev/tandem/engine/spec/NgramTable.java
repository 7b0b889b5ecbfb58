package dev.tandem.engine.spec;

/**
 * What followed each short context (the last 1 to {@link #MAX_CONTEXT} tokens) in the text committed so far
 * by every sequence that shares the table: a fixed-size direct-mapped cache from a hash of the context to
 * the token that most often followed it (a majority vote: a different follower lowers the count and takes
 * over at zero). Collisions simply overwrite (a wrong guess only costs a rejected draft). Lets prompt lookup also draw on the traffic served before, which for formulaic text (stories,
 * templates) predicts much of what the target will say. Fixed memory, no allocation after construction;
 * not thread-safe (one per decoder thread).
 */
public final class NgramTable {

    public static final int MAX_CONTEXT = 4; // predict() keeps one hash per context length, up to 4
    /** Default capacity: 2^20 slots, 12 MB. */
    public static final int DEFAULT_CAPACITY_BITS = 20;
    private static final long EMPTY = 0L;
    private static final long MULTIPLIER = 0x9E3779B97F4A7C15L;
    /** Votes saturate here, so a shift in the traffic takes over within a few observations. */
    private static final short MAX_VOTES = 3;

    private final long[] keys;
    private final int[] values;
    /** Majority-vote confidence of each slot's value. */
    private final short[] votes;
    private final int mask;

    public NgramTable() {
        this(DEFAULT_CAPACITY_BITS);
    }

    public NgramTable(int capacityBits) {
        if (capacityBits < 4 || capacityBits > 28) throw new IllegalArgumentException("capacity bits out of range: " + capacityBits);
        keys = new long[1 << capacityBits];
        values = new int[1 << capacityBits];
        votes = new short[1 << capacityBits];
        mask = (1 << capacityBits) - 1;
    }

    /** Records, for contexts of 1..MAX_CONTEXT tokens ending at {@code end - 1}, that {@code tokens[end]} followed. */
    public void learn(int[] tokens, int end) {
        int next = tokens[end];
        long hash = 0;
        for (int n = 1; n <= MAX_CONTEXT && end - n >= 0; n++) {
            hash = mix(hash, tokens[end - n], n);
            put(hash, next);
        }
    }

    /** Learns every position in [from, to) of {@code tokens}. */
    public void learnRange(int[] tokens, int from, int to) {
        for (int i = Math.max(1, from); i < to; i++) learn(tokens, i);
    }

    /**
     * The token that followed the longest known context ending at {@code end - 1} of {@code tokens}, using
     * contexts of at least {@code minContext} tokens; -1 when none is known.
     */
    public int predict(int[] tokens, int end, int minContext) {
        int maxN = Math.min(MAX_CONTEXT, end);
        // Hashes grow from the nearest token outwards, so compute them all, then look up from the longest.
        long hash = 0;
        long h1 = 0, h2 = 0, h3 = 0, h4 = 0;
        for (int n = 1; n <= maxN; n++) {
            hash = mix(hash, tokens[end - n], n);
            switch (n) {
                case 1 -> h1 = hash;
                case 2 -> h2 = hash;
                case 3 -> h3 = hash;
                default -> h4 = hash;
            }
        }
        for (int n = maxN; n >= Math.max(1, minContext); n--) {
            long h = switch (n) {
                case 1 -> h1;
                case 2 -> h2;
                case 3 -> h3;
                default -> h4;
            };
            int v = get(h);
            if (v >= 0) return v;
        }
        return -1;
    }

    private static long mix(long hash, int token, int n) {
        long h = (hash ^ (token + 1L) * MULTIPLIER) * MULTIPLIER + n;
        h ^= h >>> 29;
        return h == EMPTY ? 1 : h;
    }

    private void put(long key, int value) {
        int slot = (int) (key ^ (key >>> 32)) & mask;
        if (keys[slot] != key || votes[slot] == 0) {
            keys[slot] = key;
            values[slot] = value;
            votes[slot] = 1;
        } else if (values[slot] == value) {
            if (votes[slot] < MAX_VOTES) votes[slot]++;
        } else {
            votes[slot]--;
        }
    }

    private int get(long key) {
        int slot = (int) (key ^ (key >>> 32)) & mask;
        return keys[slot] == key ? values[slot] : -1;
    }
}
