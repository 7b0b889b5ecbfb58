package dev.tandem.engine.sampling;

/**
 * Sampling candidates packed as {@code long}s so they sort without boxing or allocation: the high
 * 32 bits hold the probability's IEEE bits (ordered like the value for probabilities >= 0), the low
 * 32 bits the complemented token id, so that among equal probabilities the lower id ranks higher.
 * Sorting uses a min-heap in place, which also serves top-k selection.
 */
final class CandidateKeys {

    private static final long LOW_BITS = 0xFFFF_FFFFL;

    private CandidateKeys() {}

    static long key(float probability, int token) {
        return ((long) Float.floatToRawIntBits(probability) << Integer.SIZE) | (LOW_BITS - token);
    }

    static float probability(long key) {
        return Float.intBitsToFloat((int) (key >>> Integer.SIZE));
    }

    static int token(long key) {
        return (int) (LOW_BITS - (key & LOW_BITS));
    }

    /** Sorts {@code keys[0 .. n)} from highest to lowest (heap sort on a min-heap). */
    static void sortDescending(long[] keys, int n) {
        for (int i = n / 2 - 1; i >= 0; i--) siftDown(keys, i, n);
        for (int end = n - 1; end > 0; end--) {
            long smallest = keys[0];
            keys[0] = keys[end];
            keys[end] = smallest;
            siftDown(keys, 0, end);
        }
    }

    /**
     * Keeps the {@code k} largest of the keys offered one by one in a min-heap {@code heap[0 .. k)};
     * {@code size} is how many are held so far. Returns the new size.
     */
    static int offerTopK(long[] heap, int size, int k, long key) {
        if (size < k) {
            int i = size;
            heap[i] = key;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= heap[i]) break;
                long t = heap[parent];
                heap[parent] = heap[i];
                heap[i] = t;
                i = parent;
            }
            return size + 1;
        }
        if (key > heap[0]) {
            heap[0] = key;
            siftDown(heap, 0, k);
        }
        return size;
    }

    private static void siftDown(long[] heap, int i, int n) {
        long value = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= value) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = value;
    }
}
