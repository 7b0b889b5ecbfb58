package dev.tandem.engine.llama;

import java.util.Arrays;

/**
 * A small open-addressing map from long keys to values, so that sequence lookups in the forward pass
 * box no {@code Long}. Linear probing with backward-shift deletion (no tombstones).
 */
final class LongKeyedTable<V> {

    private static final int INITIAL_SLOTS = 16;
    /** Grow when more than this fraction of the slots are used. */
    private static final float MAX_LOAD = 0.5f;

    private long[] keys = new long[INITIAL_SLOTS];
    private Object[] values = new Object[INITIAL_SLOTS];
    private int size;

    int size() { return size; }

    @SuppressWarnings("unchecked")
    V get(long key) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null) return null;
            if (keys[i] == key) return (V) v;
        }
    }

    void put(long key, V value) {
        if (value == null) throw new IllegalArgumentException("null value");
        if (size + 1 > keys.length * MAX_LOAD) grow();
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            if (values[i] == null) {
                keys[i] = key;
                values[i] = value;
                size++;
                return;
            }
            if (keys[i] == key) {
                values[i] = value;
                return;
            }
        }
    }

    @SuppressWarnings("unchecked")
    V remove(long key) {
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (true) {
            if (values[i] == null) return null;
            if (keys[i] == key) break;
            i = (i + 1) & mask;
        }
        V removed = (V) values[i];
        // Backward shift: move later entries of the probe run into the hole when their home slot allows it.
        int hole = i;
        for (int j = (i + 1) & mask; values[j] != null; j = (j + 1) & mask) {
            int home = slot(keys[j], mask);
            boolean homeBetween = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!homeBetween) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        values[hole] = null;
        size--;
        return removed;
    }

    long[] keys() {
        long[] out = new long[size];
        int n = 0;
        for (int i = 0; i < keys.length; i++) {
            if (values[i] != null) out[n++] = keys[i];
        }
        Arrays.sort(out);
        return out;
    }

    @SuppressWarnings("unchecked")
    void forEachValue(java.util.function.Consumer<V> action) {
        for (Object v : values) {
            if (v != null) action.accept((V) v);
        }
    }

    private void grow() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new Object[oldValues.length * 2];
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != null) {
                @SuppressWarnings("unchecked") V v = (V) oldValues[i];
                put(oldKeys[i], v);
            }
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L; // Fibonacci hashing spreads consecutive ids
        return (int) (h ^ (h >>> 32)) & mask;
    }
}
