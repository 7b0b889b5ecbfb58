package dev.tandem.engine.llama;

import dev.tandem.engine.model.ModelConfig;

import java.util.ArrayDeque;

/**
 * The keys and values of every sequence for the layers of one stage. Memory comes in pages of
 * {@link #PAGE_POSITIONS} positions, taken as positions are written and returned to a free list when a
 * sequence is truncated or released, so {@link #bytesUsed()} follows real use and the decode loop does not
 * allocate. Not thread-safe: a cache belongs to one stage.
 */
public final class KvCache {

    /** Positions per page: small enough to waste little, large enough to keep page lookups rare. */
    public static final int PAGE_POSITIONS = 16;

    private final int firstLayer;
    private final int layers;
    private final int kvDim;
    private final int maxPositions;
    private final int pageFloats;
    /** Most pages this cache may hold (in use plus kept for reuse); {@link #UNLIMITED} = no limit. */
    private final int maxPages;
    private final LongKeyedTable<SequenceKv> sequences = new LongKeyedTable<>();
    private final ArrayDeque<float[]> freePages = new ArrayDeque<>();
    private int pagesInUse;

    /** {@link #maxPages()} of a cache without a limit. */
    public static final int UNLIMITED = Integer.MAX_VALUE;

    /** A cache for layers [firstLayer, endLayer) of a model with this configuration, without a size limit. */
    public KvCache(ModelConfig config, int firstLayer, int endLayer) {
        this(config, firstLayer, endLayer, 0);
    }

    /**
     * A cache that holds at most {@code maxPositions} token positions (over all its sequences, counted in whole
     * pages of {@link #PAGE_POSITIONS}, rounded up); a forward that would need more is refused before anything
     * is written (see {@link LlamaStage#forward}). {@code maxPositions <= 0} means no limit.
     */
    public KvCache(ModelConfig config, int firstLayer, int endLayer, long maxPositions) {
        if (firstLayer < 0 || endLayer > config.nLayers() || firstLayer >= endLayer) {
            throw new IllegalArgumentException("bad layer range [" + firstLayer + ", " + endLayer + ") for "
                    + config.nLayers() + " layers");
        }
        this.firstLayer = firstLayer;
        this.layers = endLayer - firstLayer;
        this.kvDim = config.kvDim();
        this.maxPositions = config.seqLen();
        this.pageFloats = layers * 2 * PAGE_POSITIONS * kvDim;
        this.maxPages = maxPositions <= 0 ? UNLIMITED
                : (int) Math.min(UNLIMITED - 1L, (maxPositions + PAGE_POSITIONS - 1) / PAGE_POSITIONS);
    }

    /** A cache for layers [firstLayer, endLayer) that fits in {@code maxBytes} (at least one page); 0 = no limit. */
    public static KvCache withByteLimit(ModelConfig config, int firstLayer, int endLayer, long maxBytes) {
        if (maxBytes <= 0) return new KvCache(config, firstLayer, endLayer);
        long pageBytes = (long) (endLayer - firstLayer) * 2 * PAGE_POSITIONS * config.kvDim() * Float.BYTES;
        return new KvCache(config, firstLayer, endLayer, Math.max(1, maxBytes / pageBytes) * PAGE_POSITIONS);
    }

    /** Most pages this cache may hold, {@link #UNLIMITED} without a limit. */
    public int maxPages() { return maxPages; }

    /** Pages that may still be taken: the limit minus the pages in use (free-list pages are reused first). */
    public long pagesAvailable() { return maxPages == UNLIMITED ? Long.MAX_VALUE : (long) maxPages - pagesInUse; }

    /** Pages a sequence holding {@code length} positions occupies. */
    static int pagesFor(int length) {
        return (length + PAGE_POSITIONS - 1) / PAGE_POSITIONS;
    }

    public int firstLayer() { return firstLayer; }

    public int layerCount() { return layers; }

    /** Cached positions of the sequence, 0 when it is unknown. */
    public int length(long seqId) {
        SequenceKv s = sequences.get(seqId);
        return s == null ? 0 : s.length;
    }

    public boolean contains(long seqId) { return sequences.get(seqId) != null; }

    /** Ids of the cached sequences, sorted. */
    public long[] sequences() { return sequences.keys(); }

    /** Drops positions >= length of the sequence (for example rejected draft tokens). */
    public void truncate(long seqId, int length) {
        if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
        SequenceKv s = sequences.get(seqId);
        if (s == null || length >= s.length) return;
        shrink(s, length);
    }

    /** Frees all pages of the sequence and forgets it. */
    public void release(long seqId) {
        SequenceKv s = sequences.remove(seqId);
        if (s != null) shrink(s, 0);
    }

    /** Bytes of the pages that hold positions of some sequence. */
    public long bytesUsed() { return (long) pagesInUse * pageFloats * Float.BYTES; }

    /** Bytes of the pages kept on the free list for reuse. */
    public long bytesFree() { return (long) freePages.size() * pageFloats * Float.BYTES; }

    public int pagesInUse() { return pagesInUse; }

    public int pagesFree() { return freePages.size(); }

    public long pageBytes() { return (long) pageFloats * Float.BYTES; }

    /** Returns the free pages to the garbage collector. */
    public void trimFreePages() { freePages.clear(); }

    /**
     * Makes room to write positions [start, start + count) of the sequence, dropping any cached positions
     * >= start first, and sets its length to start + count. Requires start <= current length.
     */
    SequenceKv reserve(long seqId, int start, int count) {
        SequenceKv s = sequences.get(seqId);
        if (s == null) {
            s = new SequenceKv(seqId);
            sequences.put(seqId, s);
        }
        if (start > s.length) {
            throw new IllegalArgumentException("sequence " + seqId + " has " + s.length
                    + " cached positions; cannot write at position " + start);
        }
        int end = start + count;
        if (end > maxPositions) {
            throw new IllegalArgumentException("sequence " + seqId + " would reach " + end
                    + " positions, over the model's context of " + maxPositions);
        }
        if (start < s.length) shrink(s, start);
        int pagesNeeded = pagesFor(end);
        if (pagesNeeded - s.pageCount > pagesAvailable()) {
            throw new IllegalStateException("KV cache of layers [" + firstLayer + ", " + (firstLayer + layers)
                    + ") is full: sequence " + seqId + " needs " + (pagesNeeded - s.pageCount) + " more page(s), "
                    + pagesAvailable() + " of " + maxPages + " are free");
        }
        while (s.pageCount < pagesNeeded) {
            float[] page = freePages.pollLast();
            if (page == null) page = new float[pageFloats];
            s.addPage(page);
            pagesInUse++;
        }
        s.length = end;
        return s;
    }

    SequenceKv lookup(long seqId) { return sequences.get(seqId); }

    private void shrink(SequenceKv s, int length) {
        int pagesNeeded = pagesFor(length);
        while (s.pageCount > pagesNeeded) {
            freePages.addLast(s.removeLastPage());
            pagesInUse--;
        }
        s.length = length;
    }

    /**
     * Offset in a page of the keys of a local layer, stored transposed: key component i of slot s is at
     * {@code keyBase + i * PAGE_POSITIONS + s}, so one vector load holds one component for consecutive
     * positions and attention scores several positions at once. The values follow, one row per slot.
     */
    int keyBase(int localLayer) {
        return localLayer * 2 * PAGE_POSITIONS * kvDim;
    }

    int valueOffset(int localLayer, int slot) {
        return ((localLayer * 2 + 1) * PAGE_POSITIONS + slot) * kvDim;
    }

    int kvDim() { return kvDim; }
}
