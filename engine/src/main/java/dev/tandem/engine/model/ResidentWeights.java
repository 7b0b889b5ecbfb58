package dev.tandem.engine.model;

import dev.tandem.engine.memory.HugePageMemory;
import dev.tandem.engine.memory.HugePageUsage;
import dev.tandem.engine.memory.HugePagesUnavailableException;
import dev.tandem.engine.tensor.WeightMatrix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Places the weights one stage of layers [fromLayer, toLayer) streams where {@link WeightsMemory} says: for
 * {@link WeightsMemory#HUGE_PAGES}, one copy of exactly those matrices (the layers' seven, and the output head on
 * a last stage, which is also the embedding when the model ties them) in a single 2 MB-aligned huge-page region
 * owned by an arena. Other layers, and an untied embedding (one row read per token, no streaming), keep
 * pointing at the mapped file.
 * The copy holds the same bytes, so every result is bit for bit what the mapped weights give. Norm vectors
 * already live on the heap.
 */
public final class ResidentWeights {

    private static final Logger LOG = LoggerFactory.getLogger(ResidentWeights.class);
    /**
     * Each tensor starts at the same offset within a cache line as its source (the file's), so that a copy
     * differs from the mapping in page size only: starting every tensor on a cache line measured no faster, and
     * slower for 6 to 8 batch rows, in ForwardCpuBenchmark on stories15M (whose tensors sit 28 bytes past one).
     */
    private static final long CACHE_LINE = 64;
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    private ResidentWeights() {}

    /**
     * The weights for a stage of [fromLayer, toLayer): {@code weights} itself for {@link WeightsMemory#MAPPED} or
     * when huge pages cannot be had (logged once per JVM), else a copy whose memory {@code arena} owns: the
     * returned weights must not be used after it closes.
     */
    public static ModelWeights place(ModelWeights weights, int fromLayer, int toLayer, WeightsMemory memory, Arena arena) {
        int layers = weights.config().nLayers();
        if (fromLayer < 0 || toLayer > layers || fromLayer >= toLayer) {
            throw new IllegalArgumentException("bad layer range [" + fromLayer + ", " + toLayer + ") for " + layers + " layers");
        }
        if (memory == WeightsMemory.MAPPED) return weights;
        List<WeightMatrix> used = usedMatrices(weights, fromLayer, toLayer);
        long bytes = 0;
        for (WeightMatrix m : used) bytes = start(bytes, m) + m.segment().byteSize();
        MemorySegment region;
        try {
            region = HugePageMemory.allocate(bytes, arena);
        } catch (HugePagesUnavailableException e) {
            if (FALLBACK_LOGGED.compareAndSet(false, true)) {
                LOG.warn("model weights stay on the mapped file (4 KB pages): no huge-page memory here ({})", e.getMessage());
            }
            return weights;
        }
        Map<WeightMatrix, WeightMatrix> copies = new IdentityHashMap<>();
        long offset = 0;
        for (WeightMatrix m : used) {
            offset = start(offset, m);
            long size = m.segment().byteSize();
            MemorySegment slice = region.asSlice(offset, size);
            // The first touch of the region: with MADV_HUGEPAGE set, each 2 MB faults in as one huge page.
            MemorySegment.copy(m.segment(), 0, slice, 0, size);
            copies.put(m, m.withSegment(slice.asReadOnly()));
            offset += size;
        }
        if (LOG.isInfoEnabled()) { // madvise is advice: say what the kernel gave
            OptionalLong huge = HugePageUsage.anonHugeBytes(region);
            LOG.info("weights of layers [{}, {}) copied to huge-page memory: {} MB in {} MB of 2 MB pages, {} on huge pages",
                    fromLayer, toLayer, bytes >> 20, region.byteSize() >> 20,
                    huge.isPresent() ? (huge.getAsLong() >> 20) + " MB" : "unknown MB");
        }
        return rebuild(weights, fromLayer, toLayer, copies);
    }

    /** The distinct matrices a stage of [fromLayer, toLayer) streams, in the order they are laid out. */
    private static List<WeightMatrix> usedMatrices(ModelWeights w, int fromLayer, int toLayer) {
        Map<WeightMatrix, Boolean> seen = new IdentityHashMap<>();
        List<WeightMatrix> used = new ArrayList<>();
        boolean last = toLayer == w.config().nLayers();
        // The embedding is not streamed (a first stage reads one row per token), so it stays mapped unless it
        // is also the output head of a last stage (tied), which the rebuild then points at the head's copy.
        for (int l = fromLayer; l < toLayer; l++) {
            LayerWeights lw = w.layers().get(l);
            for (WeightMatrix m : List.of(lw.wq(), lw.wk(), lw.wv(), lw.wo(), lw.w1(), lw.w2(), lw.w3())) {
                addOnce(used, seen, m);
            }
        }
        if (last) addOnce(used, seen, w.output());
        return used;
    }

    private static void addOnce(List<WeightMatrix> used, Map<WeightMatrix, Boolean> seen, WeightMatrix m) {
        if (seen.put(m, Boolean.TRUE) == null) used.add(m);
    }

    private static ModelWeights rebuild(ModelWeights w, int fromLayer, int toLayer, Map<WeightMatrix, WeightMatrix> copies) {
        List<LayerWeights> layers = new ArrayList<>(w.layers());
        for (int l = fromLayer; l < toLayer; l++) {
            LayerWeights lw = layers.get(l);
            layers.set(l, new LayerWeights(lw.attnNorm(), copies.get(lw.wq()), copies.get(lw.wk()), copies.get(lw.wv()),
                    copies.get(lw.wo()), lw.ffnNorm(), copies.get(lw.w1()), copies.get(lw.w2()), copies.get(lw.w3())));
        }
        return new ModelWeights(w.config(), copies.getOrDefault(w.tokenEmbedding(), w.tokenEmbedding()),
                List.copyOf(layers), w.finalNorm(), copies.getOrDefault(w.output(), w.output()));
    }

    /** Where {@code m}'s copy starts at or after {@code offset}: the next cache line plus its source's offset within one. */
    private static long start(long offset, WeightMatrix m) {
        long nextLine = (offset + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
        return nextLine + Long.remainderUnsigned(m.segment().address(), CACHE_LINE);
    }
}
