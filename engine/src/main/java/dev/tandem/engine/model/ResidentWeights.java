package dev.tandem.engine.model;

import dev.tandem.engine.memory.HugePageMemory;
import dev.tandem.engine.memory.HugePageUsage;
import dev.tandem.engine.memory.HugePagesUnavailableException;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.PackedF32Matrix;
import dev.tandem.engine.tensor.PackedInt8Matrix;
import dev.tandem.engine.tensor.WeightMatrix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

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
 *
 * <p>Float32 matrices are copied into the {@link PackedF32Matrix} layout, whose products make a few batch rows
 * cost little more than one; it adds in another order than the mapped {@link F32Matrix}, so results agree with
 * the mapped weights to rounding, not bit for bit (a tied embedding reads its rows back out of the packed head
 * exactly). Other types are copied byte for byte and give the mapped results exactly. When huge pages cannot be
 * had, the copy goes to ordinary memory, so that a stage's results depend on this setting, not on the host.
 * Norm vectors already live on the heap.
 */
public final class ResidentWeights {

    private static final Logger LOG = LoggerFactory.getLogger(ResidentWeights.class);
    /**
     * A byte-for-byte copy starts at the same offset within a cache line as its source (the file's), so that it
     * differs from the mapping in page size only: starting row-major tensors on a cache line measured no faster,
     * and slower for 6 to 8 batch rows, in ForwardCpuBenchmark on stories15M (whose tensors sit 28 bytes past one).
     * A packed copy starts on a line.
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
        return place(weights, fromLayer, toLayer, memory, arena, true);
    }

    /**
     * As {@link #place(ModelWeights, int, int, WeightsMemory, Arena)}; with {@code announce} false the copy is logged
     * at debug level only (a coordinator copies every draft it swaps in, dozens an hour).
     */
    public static ModelWeights place(ModelWeights weights, int fromLayer, int toLayer, WeightsMemory memory, Arena arena,
                                     boolean announce) {
        int layers = weights.config().nLayers();
        if (fromLayer < 0 || toLayer > layers || fromLayer >= toLayer) {
            throw new IllegalArgumentException("bad layer range [" + fromLayer + ", " + toLayer + ") for " + layers + " layers");
        }
        if (memory == WeightsMemory.MAPPED) return weights;
        List<WeightMatrix> used = usedMatrices(weights, fromLayer, toLayer);
        long bytes = 0;
        for (WeightMatrix m : used) bytes = start(bytes, m) + residentBytes(m);
        MemorySegment region;
        try {
            region = HugePageMemory.allocate(bytes, arena);
        } catch (HugePagesUnavailableException e) {
            if (FALLBACK_LOGGED.compareAndSet(false, true)) {
                LOG.warn("model weights copied to ordinary memory (4 KB pages): no huge-page memory here ({})", e.getMessage());
            }
            region = arena.allocate(bytes, CACHE_LINE);
        }
        Map<WeightMatrix, WeightMatrix> copies = new IdentityHashMap<>();
        long offset = 0;
        for (WeightMatrix m : used) {
            offset = start(offset, m);
            long size = residentBytes(m);
            MemorySegment slice = region.asSlice(offset, size);
            // The first touch of the region: with MADV_HUGEPAGE set, each 2 MB faults in as one huge page.
            copies.put(m, copy(m, slice));
            offset += size;
        }
        if (announce ? LOG.isInfoEnabled() : LOG.isDebugEnabled()) { // madvise is advice: say what the kernel gave
            OptionalLong huge = HugePageUsage.anonHugeBytes(region);
            LOG.atLevel(announce ? Level.INFO : Level.DEBUG).log("weights of layers [{}, {}) copied to huge-page memory: {} MB in {} MB of 2 MB pages, {} on huge pages",
                    fromLayer, toLayer, bytes >> 20, region.byteSize() >> 20,
                    huge.isPresent() ? (huge.getAsLong() >> 20) + " MB" : "unknown MB");
        }
        return rebuild(weights, fromLayer, toLayer, copies);
    }

    /**
     * An int8 copy ({@link PackedInt8Matrix}, one scale per row) of every matrix a whole-model stage of {@code weights}
     * streams, all in one region (huge pages where the host gives them), each on its own cache line; the embedding
     * stays as it is (rows are only copied out of it). Its products approximate the float32 ones: for a draft model,
     * whose proposals the target verifies. Refuses (IllegalArgumentException) a matrix holding a value that is not
     * finite.
     */
    public static ModelWeights int8Copy(ModelWeights weights) {
        int layers = weights.config().nLayers();
        List<WeightMatrix> used = usedMatrices(weights, 0, layers);
        long bytes = 0;
        for (WeightMatrix m : used) bytes = nextLine(bytes) + PackedInt8Matrix.bytesFor(m.rows(), m.cols());
        MemorySegment region = PackedInt8Matrix.allocate(bytes);
        Map<WeightMatrix, WeightMatrix> copies = new IdentityHashMap<>();
        long offset = 0;
        for (WeightMatrix m : used) {
            offset = nextLine(offset);
            long size = PackedInt8Matrix.bytesFor(m.rows(), m.cols());
            copies.put(m, PackedInt8Matrix.quantize(m, region.asSlice(offset, size)));
            offset += size;
        }
        ModelWeights copy = rebuild(weights, 0, layers, copies);
        // With a tied head the rebuild points the embedding at the head's int8 copy; the embedding stays as it is.
        return new ModelWeights(copy.config(), weights.tokenEmbedding(), copy.layers(), copy.finalNorm(), copy.output());
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
        for (int l = fromLayer; l < toLayer; l++) layers.set(l, layers.get(l).withMatrices(copies::get));
        return new ModelWeights(w.config(), copies.getOrDefault(w.tokenEmbedding(), w.tokenEmbedding()),
                List.copyOf(layers), w.finalNorm(), copies.getOrDefault(w.output(), w.output()));
    }

    /** Whether {@code m} is copied into the packed layout (float32 rows as the file holds them). */
    private static boolean packs(WeightMatrix m) {
        return m instanceof F32Matrix;
    }

    private static long residentBytes(WeightMatrix m) {
        return packs(m) ? PackedF32Matrix.packedBytes(m.rows(), m.cols()) : m.segment().byteSize();
    }

    /** Copies {@code m} into {@code slice} ({@link #residentBytes} long) and returns the matrix reading the copy. */
    private static WeightMatrix copy(WeightMatrix m, MemorySegment slice) {
        if (packs(m)) {
            PackedF32Matrix.pack(m, slice);
            return new PackedF32Matrix(slice.asReadOnly(), m.rows(), m.cols());
        }
        MemorySegment.copy(m.segment(), 0, slice, 0, slice.byteSize());
        return m.withSegment(slice.asReadOnly());
    }

    /**
     * Where {@code m}'s copy starts at or after {@code offset}: a packed copy on the next cache line (each of its
     * vector loads is then one whole line), another on the next line plus its source's offset within one.
     */
    private static long start(long offset, WeightMatrix m) {
        long nextLine = nextLine(offset);
        return packs(m) ? nextLine : nextLine + Long.remainderUnsigned(m.segment().address(), CACHE_LINE);
    }

    private static long nextLine(long offset) {
        return (offset + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    }
}
