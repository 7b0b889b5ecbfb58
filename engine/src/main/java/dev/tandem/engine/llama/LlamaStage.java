package dev.tandem.engine.llama;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ChunkTask;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.parallel.RangeTask;
import dev.tandem.engine.tensor.WeightMatrix;

/**
 * The Llama forward pass over layers [fromLayer, toLayer) of a model, for a whole {@link ForwardBatch} at
 * once: each weight row is read once for all rows of the batch, and every matrix product (and attention,
 * over (row, head)) is split over a {@link ParallelRunner}. The first stage looks tokens up in the
 * embedding; the last applies the final norm and the output head to the rows that want logits.
 * Matches llama2.c's {@code run.c}: RMSNorm, RoPE on adjacent pairs, grouped-query causal attention,
 * SwiGLU feed-forward, residuals.
 *
 * <p>Buffers are sized for a maximum batch given at construction and grow (outside the steady state) when
 * a bigger batch arrives, so a forward call allocates nothing after warm-up. Not thread-safe.
 */
public final class LlamaStage {

    /** The k of {@link RowOutput#TOP_LOGITS} rows until {@link #screenTopK} says otherwise. */
    public static final int DEFAULT_SCREEN_TOP_K = 32;
    /**
     * Rows per sequence in the first round of a verification's screen ({@link #headInRounds}): three rows take one
     * whole-quad pass of the int8 head, about the time of one or two rows.
     */
    static final int FIRST_ROUND_ROWS = 3;
    /** A run's next row in {@link #headInRounds} once it has had a mismatch. */
    private static final int STOPPED = Integer.MAX_VALUE;

    private final ModelConfig config;
    private final ModelWeights weights;
    private final int fromLayer;
    private final int toLayer;
    private final KvCache cache;
    private final ParallelRunner runner;
    private final boolean first;
    private final boolean last;

    private final int dim;
    private final int kvDim;
    private final int headDim;
    private final int nHeads;
    private final int kvMul;
    private final int hiddenDim;
    /** Rows of the output head: the width of a logits row (the vocabulary, or a draft's reduced vocabulary). */
    private final int vocab;
    /** Rows of the token embedding: the token ids a first stage accepts. */
    private final int embeddingRows;
    private final float attentionScale;
    /** cos and sin of the RoPE angle for [position][pair index within a head]. */
    private final float[] ropeCos;
    private final float[] ropeSin;

    private final StageOutput output;
    private final QkvSection qkvSection = new QkvSection();
    private final AttentionSection attentionSection = new AttentionSection();
    private final OutputProjectionSection outputProjectionSection = new OutputProjectionSection();
    private final FeedForwardUpSection feedForwardUpSection = new FeedForwardUpSection();
    private final FeedForwardDownSection feedForwardDownSection = new FeedForwardDownSection();
    private final HeadSection headSection = new HeadSection();

    // Per-call state shared with the sections.
    private ForwardBatch batch;
    private int rows;
    private LayerWeights layer;
    private int localLayer;

    // Buffers, rows x width, grown by ensureRows.
    private int rowCapacity;
    private float[] x;
    private float[] xn;
    private float[] q;
    private float[] k;
    private float[] v;
    private float[] attended;
    private float[] projected;
    private float[] gate;
    private float[] up;
    private SequenceKv[] rowSequence;
    private int[] logitIndex;
    private int logitCapacity;
    private float[] headInput;
    private float[] logits;
    /** Per row: its greedy token when the int8 screen settled it, else -1. */
    private int[] greedyTokens = new int[0];
    /** Rows going through the greedy screen in this call, in order, and the top k each wants exactly (0: none). */
    private int[] screenedRows = new int[0];
    private int[] screenTops = new int[0];
    /** Rounds of a verification's screen (indices into screenedRows): the rows of this round, and each run's next row. */
    private int[] roundRows = new int[0];
    private int[] runNext = new int[0];
    /** The k of {@link RowOutput#TOP_LOGITS} rows, and whether they may go through the screen. */
    private int screenTopK = DEFAULT_SCREEN_TOP_K;
    private boolean screenTopLogits = true;
    /** Whether rows that want only their greedy token may go through an int8 screen of the head. */
    private boolean greedyScreen = true;
    /** A last stage with a float32 head large enough to screen. */
    private final boolean screenable;
    /** Made on the first row that can use it (a draft's stage never asks, and never pays for the copy). */
    private GreedyHead greedyHead;
    private final float[][] attentionScores;

    /** A stage with its own KV cache. */
    public LlamaStage(ModelWeights weights, int fromLayer, int toLayer, ParallelRunner runner, int maxBatchRows) {
        this(weights, fromLayer, toLayer, new KvCache(weights.config(), fromLayer, toLayer), runner, maxBatchRows);
    }

    public LlamaStage(ModelWeights weights, int fromLayer, int toLayer, KvCache cache, ParallelRunner runner,
                      int maxBatchRows) {
        this.config = weights.config();
        if (fromLayer < 0 || toLayer > config.nLayers() || fromLayer >= toLayer) {
            throw new IllegalArgumentException("bad layer range [" + fromLayer + ", " + toLayer + ") for "
                    + config.nLayers() + " layers");
        }
        if (cache.firstLayer() != fromLayer || cache.layerCount() != toLayer - fromLayer) {
            throw new IllegalArgumentException("the KV cache does not cover layers [" + fromLayer + ", " + toLayer + ")");
        }
        this.weights = weights;
        this.fromLayer = fromLayer;
        this.toLayer = toLayer;
        this.cache = cache;
        this.runner = runner;
        this.first = fromLayer == 0;
        this.last = toLayer == config.nLayers();
        this.dim = config.dim();
        this.kvDim = config.kvDim();
        this.headDim = config.headDim();
        this.nHeads = config.nHeads();
        this.kvMul = config.kvMul();
        this.hiddenDim = config.hiddenDim();
        // A draft model embeds the full vocabulary but may have a head over a reduced one (see engine.draft).
        this.vocab = weights.output().rows();
        this.embeddingRows = weights.tokenEmbedding().rows();
        this.attentionScale = (float) (1.0 / Math.sqrt(headDim));
        int pairs = headDim / 2;
        this.ropeCos = new float[config.seqLen() * pairs];
        this.ropeSin = new float[config.seqLen() * pairs];
        for (int pos = 0; pos < config.seqLen(); pos++) {
            for (int p = 0; p < pairs; p++) {
                float freq = (float) (1.0 / Math.pow(config.ropeTheta(), (2 * p) / (float) headDim));
                float angle = pos * freq;
                ropeCos[pos * pairs + p] = (float) Math.cos(angle);
                ropeSin[pos * pairs + p] = (float) Math.sin(angle);
            }
        }
        // Whole pages of scores: the last page is scored in full.
        int scoreSlots = KvCache.pagesFor(config.seqLen()) * KvCache.PAGE_POSITIONS;
        this.attentionScores = new float[runner.threads()][scoreSlots];
        this.output = new StageOutput(dim, vocab, last ? new OutputHead(weights) : null);
        this.screenable = last && GreedyHead.applies(weights.output());
        ensureRows(Math.max(1, maxBatchRows));
        ensureLogitRows(last ? Math.max(1, maxBatchRows) : 0);
    }

    public ModelConfig config() { return config; }

    public int fromLayer() { return fromLayer; }

    public int toLayer() { return toLayer; }

    public boolean isFirst() { return first; }

    public boolean isLast() { return last; }

    public KvCache cache() { return cache; }

    public ParallelRunner runner() { return runner; }

    /**
     * Whether {@link RowOutput#GREEDY_TOKEN} rows may be settled by an int8 screen of a float32 head
     * ({@link GreedyHead}, on by default, the int8 copy then made on the first such row; the token is the same either
     * way). Off, they get the full product. On, the copy is made now.
     */
    public void useGreedyScreen(boolean on) {
        this.greedyScreen = on;
        // Made now rather than on the first greedy row, which would otherwise wait for it (tens of ms).
        if (on && screenable && greedyHead == null) greedyHead = GreedyHead.forHead(weights.output());
    }

    /**
     * Whether {@link RowOutput#TOP_LOGITS} rows may go through the screen (on by default; off, they get the whole
     * product, which holds their top k exactly too).
     */
    public void useScreenForTopLogits(boolean on) { this.screenTopLogits = on; }

    /** The k of {@link RowOutput#TOP_LOGITS} rows: how many of their highest logits are exact (at least 1). */
    public void screenTopK(int k) {
        if (k < 1) throw new IllegalArgumentException("top k must be >= 1, got " + k);
        this.screenTopK = k;
    }

    /** The greedy screen in use, if one was made (statistics and tests). */
    public GreedyHead greedyHead() { return greedyHead; }

    /** Grows the buffers to hold a batch of {@code n} rows (call outside the hot path to avoid growth there). */
    public void ensureRows(int n) {
        if (n <= rowCapacity) return;
        rowCapacity = n;
        x = new float[n * dim];
        xn = new float[n * dim];
        q = new float[n * dim];
        k = new float[n * kvDim];
        v = new float[n * kvDim];
        attended = new float[n * dim];
        projected = new float[n * dim];
        gate = new float[n * hiddenDim];
        up = new float[n * hiddenDim];
        rowSequence = new SequenceKv[n];
        logitIndex = new int[n];
        greedyTokens = new int[n];
        screenedRows = new int[n];
        screenTops = new int[n];
        roundRows = new int[n];
        runNext = new int[n];
    }

    private void ensureLogitRows(int n) {
        if (n <= logitCapacity) return;
        logitCapacity = n;
        headInput = new float[n * dim];
        logits = new float[n * vocab];
    }

    /**
     * Runs the batch through the stage's layers, writing each row's key and value into the cache at its
     * position (a sequence's cached positions from its first row's position on are dropped first).
     * The result is valid until the next call.
     */
    public StageOutput forward(ForwardBatch batch) {
        int n = batch.rows();
        if (n == 0) {
            output.set(0, x, last ? logits : null, logitIndex, greedyTokens, 0);
            return output;
        }
        if (batch.dim() != dim) throw new IllegalArgumentException("batch dim " + batch.dim() + " != model dim " + dim);
        if (first != batch.hasTokens()) {
            throw new IllegalArgumentException(first ? "the first stage needs token rows" : "this stage needs hidden-state rows");
        }
        ensureRows(n);
        if (last) ensureLogitRows(batch.logitRows());
        this.batch = batch;
        this.rows = n;
        try {
            reserveCache();
            embed();
            for (int l = fromLayer; l < toLayer; l++) {
                layer = weights.layers().get(l);
                localLayer = l - fromLayer;
                attentionBlock();
                feedForwardBlock();
            }
            int logitRows = last ? head() : 0;
            output.set(n, x, last ? logits : null, logitIndex, greedyTokens, logitRows);
            return output;
        } finally {
            this.batch = null;
            java.util.Arrays.fill(rowSequence, 0, n, null);
        }
    }

    /** Validates the runs of rows per sequence, then reserves their positions in the cache. */
    private void reserveCache() {
        for (int r = 0; r < rows; ) {
            long id = batch.seqId(r);
            int end = runEnd(r);
            for (int prev = 0; prev < r; prev = runEnd(prev)) {
                if (batch.seqId(prev) == id) {
                    throw new IllegalArgumentException("rows of sequence " + id + " are not contiguous in the batch");
                }
            }
            int start = batch.position(r);
            if (start > cache.length(id)) {
                throw new IllegalArgumentException("sequence " + id + " has " + cache.length(id)
                        + " cached positions; cannot write at position " + start);
            }
            if (batch.position(end - 1) >= config.seqLen()) {
                throw new IllegalArgumentException("position " + batch.position(end - 1) + " of sequence " + id
                        + " is beyond the model's context of " + config.seqLen());
            }
            r = end;
        }
        checkCapacity();
        for (int r = 0; r < rows; ) {
            int end = runEnd(r);
            SequenceKv s = cache.reserve(batch.seqId(r), batch.position(r), end - r);
            for (int i = r; i < end; i++) rowSequence[i] = s;
            r = end;
        }
    }

    /**
     * Refuses the batch, before any position is written, when the cache's limit cannot hold the pages its runs
     * add (a run writing from position p first frees the pages past p; pages freed by one run are not counted for
     * another, so the check never under-counts).
     */
    private void checkCapacity() {
        if (cache.maxPages() == KvCache.UNLIMITED) return;
        long added = 0;
        for (int r = 0; r < rows; ) {
            int end = runEnd(r);
            int start = batch.position(r);
            int held = KvCache.pagesFor(cache.length(batch.seqId(r)));
            int kept = Math.min(held, KvCache.pagesFor(start));
            added += Math.max(0, KvCache.pagesFor(start + end - r) - kept);
            r = end;
        }
        if (added > cache.pagesAvailable()) {
            long positions = cache.pagesAvailable() * KvCache.PAGE_POSITIONS;
            throw new IllegalArgumentException("the KV cache of layers [" + fromLayer + ", " + toLayer + ") is full: the step needs "
                    + added * KvCache.PAGE_POSITIONS + " more cached positions, " + Math.max(0, positions) + " of its limit of "
                    + (long) cache.maxPages() * KvCache.PAGE_POSITIONS + " are free (" + cache.sequences().length
                    + " sequences hold the rest); nothing was written");
        }
    }

    private int runEnd(int start) {
        long id = batch.seqId(start);
        int end = start + 1;
        while (end < rows && batch.seqId(end) == id) end++;
        return end;
    }

    private void embed() {
        if (first) {
            WeightMatrix embedding = weights.tokenEmbedding();
            for (int r = 0; r < rows; r++) {
                int token = batch.token(r);
                if (token < 0 || token >= embeddingRows) throw new IllegalArgumentException("token " + token + " outside the vocabulary");
                embedding.readRow(token, x, r * dim);
            }
        } else {
            System.arraycopy(batch.hidden(), 0, x, 0, rows * dim);
        }
    }

    private void attentionBlock() {
        for (int r = 0; r < rows; r++) Kernels.rmsNorm(x, r * dim, layer.attnNorm(), xn, r * dim, dim, config.normEps());
        runner.forRange(dim + 2 * kvDim, qkvSection);
        runner.forChunks(rows * nHeads, 1, attentionSection);
        runner.forRange(dim, outputProjectionSection);
    }

    private void feedForwardBlock() {
        for (int r = 0; r < rows; r++) Kernels.rmsNorm(x, r * dim, layer.ffnNorm(), xn, r * dim, dim, config.normEps());
        runner.forRange(hiddenDim, feedForwardUpSection);
        runner.forRange(dim, feedForwardDownSection);
    }

    /**
     * RoPE on columns [from, to) of q (width {@code dim}) or k (width {@code kvDim}) for every row, by the angles
     * of each row's position; {@code from} is even, so a range never splits a pair (llama2.c / Meta layout:
     * adjacent pairs, the pair's index within its head picking the angle).
     */
    private void rotate(float[] vec, int width, int from, int to) {
        int pairs = headDim / 2;
        for (int r = 0; r < rows; r++) {
            int table = batch.position(r) * pairs;
            int off = r * width;
            for (int i = from, j = (from % headDim) / 2; i < to; i += 2) {
                float c = ropeCos[table + j];
                float s = ropeSin[table + j];
                float v0 = vec[off + i];
                float v1 = vec[off + i + 1];
                vec[off + i] = v0 * c - v1 * s;
                vec[off + i + 1] = v0 * s + v1 * c;
                if (++j == pairs) j = 0;
            }
        }
    }

    /** Writes columns [from, to) of every row's key into the cache, transposed: one page row per column. */
    private void storeKeys(int from, int to) {
        for (int r = 0; r < rows; r++) {
            int pos = batch.position(r);
            float[] page = rowSequence[r].pages[pos / KvCache.PAGE_POSITIONS];
            int key = cache.keyBase(localLayer) + pos % KvCache.PAGE_POSITIONS;
            for (int i = from; i < to; i++) page[key + i * KvCache.PAGE_POSITIONS] = k[r * kvDim + i];
        }
    }

    /** Writes columns [from, to) of every row's value into the cache (one page row per position). */
    private void storeValues(int from, int to) {
        for (int r = 0; r < rows; r++) {
            int pos = batch.position(r);
            float[] page = rowSequence[r].pages[pos / KvCache.PAGE_POSITIONS];
            System.arraycopy(v, r * kvDim + from, page, cache.valueOffset(localLayer, pos % KvCache.PAGE_POSITIONS) + from, to - from);
        }
    }

    /**
     * Logits of the rows that want them and greedy tokens of the rows that want only those: final norm, then the
     * output head split over the vocabulary. Greedy rows go through the int8 screen first when there is one; the
     * few it cannot settle join the full product. Returns the rows that went through the head.
     */
    private int head() {
        int greedyRows = 0;
        int topRows = 0;
        for (int r = 0; r < rows; r++) {
            RowOutput want = batch.output(r);
            if (want == RowOutput.GREEDY_TOKEN) greedyRows++;
            else if (want == RowOutput.TOP_LOGITS) topRows++;
        }
        GreedyHead screen = greedyRows + topRows > 0 ? greedyScreen() : null;
        if (screen != null && !GreedyHead.warm()) screen = null;
        // Top-k rows cost more to settle (a k-th bound, more candidates, a logits row to write): worth it for a row
        // or two, not for a verification of several drafts (ForwardCpuBenchmark).
        boolean screenTop = screen != null && screenTopLogits && topRows <= GreedyHead.MAX_TOP_ROWS
                && greedyRows + topRows <= GreedyHead.MAX_ROWS;
        boolean screenGreedy = screen != null && greedyRows + (screenTop ? topRows : 0) <= GreedyHead.MAX_ROWS;
        int full = 0;
        int screened = 0;
        for (int r = 0; r < rows; r++) {
            RowOutput want = batch.output(r);
            logitIndex[r] = -1;
            greedyTokens[r] = -1;
            boolean viaScreen = want == RowOutput.GREEDY_TOKEN ? screenGreedy : want == RowOutput.TOP_LOGITS && screenTop;
            if (want.usesHead() && !viaScreen) {
                Kernels.rmsNorm(x, r * dim, weights.finalNorm(), headInput, full * dim, dim, config.normEps());
                logitIndex[r] = full++;
            } else if (want.usesHead()) {
                screenTops[screened] = want == RowOutput.TOP_LOGITS ? screenTopK : 0;
                screenedRows[screened++] = r;
            }
        }
        if (screened == 0) {
            headSection.count = full;
            if (full > 0) runner.forRange(vocab, headSection);
            return full;
        }
        if (!anyTopRows(screened) && expectsTokens(screened)) return headInRounds(screen, full, screened);
        // Screened rows sit after the full ones; a row the screen cannot settle moves down to join them, then the
        // settled rows that want logits take the slots after those.
        int base = full;
        for (int i = 0; i < screened; i++) {
            Kernels.rmsNorm(x, screenedRows[i] * dim, weights.finalNorm(), headInput, (base + i) * dim, dim, config.normEps());
        }
        screen.run(runner, headInput, base * dim, screened, screenTops);
        int settled = 0;
        for (int i = 0; i < screened; i++) {
            int r = screenedRows[i];
            int token = screen.token(i);
            if (token >= 0) {
                greedyTokens[r] = token;
                settled++;
            } else {
                System.arraycopy(headInput, (base + i) * dim, headInput, full * dim, dim);
                logitIndex[r] = full++;
            }
        }
        headSection.count = full;
        if (full > 0) runner.forRange(vocab, headSection);
        int slot = full;
        for (int i = 0; i < screened; i++) {
            int r = screenedRows[i];
            if (greedyTokens[r] >= 0 && screenTops[i] > 0) {
                screen.writeLogits(i, logits, slot * vocab);
                logitIndex[r] = slot++;
            }
        }
        return full + settled;
    }

    /** Whether a screened row wants its top logits (read back from the screen's state after its own call). */
    private boolean anyTopRows(int screened) {
        for (int i = 0; i < screened; i++) if (screenTops[i] > 0) return true;
        return false;
    }

    /** Whether a screened row is checked against an expected token ({@link ForwardBatch#expectGreedyToken}). */
    private boolean expectsTokens(int screened) {
        for (int i = 0; i < screened; i++) {
            if (batch.expectedToken(screenedRows[i]) != ForwardBatch.NO_EXPECTATION) return true;
        }
        return false;
    }

    /**
     * The greedy rows of a verification, screened in rounds: the first {@link #FIRST_ROUND_ROWS} rows of each
     * sequence, then the rest of each sequence whose rows so far all gave their expected tokens. A verification
     * reads a sequence's rows only up to its first rejected draft, so the rows after it get no output: at 0.7
     * acceptance a five-row verification screens its last two rows a third of the time. A row the screen cannot
     * settle counts as a match (its rows after it are screened too) and joins the full product at the end, as in
     * {@link #head}. Returns the rows that went through the head.
     */
    private int headInRounds(GreedyHead screen, int full, int screened) {
        // Runs of screened rows by sequence: runNext[i] is, at a run's first index i, the index of its next row to
        // screen (STOPPED after a mismatch), and -1 at the run's other indices.
        for (int i = 0; i < screened; i++) runNext[i] = i == 0 || sequenceOf(i) != sequenceOf(i - 1) ? i : -1;
        int settled = 0;
        for (int round = 0; ; round++) {
            int base = full; // this round's rows go after the rows of the full product so far
            int n = 0;
            for (int i = 0; i < screened; ) {
                int end = screenedRunEnd(i, screened);
                int next = runNext[i];
                if (next >= 0 && next < end) {
                    // A run of four rows or fewer goes in one round: a second round for one row costs more than
                    // the row (a whole forward verifying three drafts measured 1.03x the time in two rounds).
                    int stop = round == 0 && end - next > FIRST_ROUND_ROWS + 1 ? next + FIRST_ROUND_ROWS : end;
                    for (int j = next; j < stop; j++) {
                        Kernels.rmsNorm(x, screenedRows[j] * dim, weights.finalNorm(), headInput, (base + n) * dim, dim, config.normEps());
                        roundRows[n++] = j;
                    }
                }
                i = end;
            }
            if (n == 0) break;
            screen.run(runner, headInput, base * dim, n);
            for (int m = 0; m < n; m++) {
                int j = roundRows[m];
                int r = screenedRows[j];
                int token = screen.token(m);
                int runStart = j;
                while (runNext[runStart] < 0) runStart--;
                if (runNext[runStart] != STOPPED) runNext[runStart] = j + 1; // a mismatch earlier in the round stopped it
                if (token >= 0) {
                    greedyTokens[r] = token;
                    settled++;
                    int want = batch.expectedToken(r);
                    if (want != ForwardBatch.NO_EXPECTATION && want != token) runNext[runStart] = STOPPED;
                } else {
                    // Unsettled: its logits come with the full product; the rows after it stay in play.
                    System.arraycopy(headInput, (base + m) * dim, headInput, full * dim, dim);
                    logitIndex[r] = full++;
                }
            }
        }
        headSection.count = full;
        if (full > 0) runner.forRange(vocab, headSection);
        return full + settled;
    }

    private long sequenceOf(int screenedIndex) {
        return batch.seqId(screenedRows[screenedIndex]);
    }

    /** The end (exclusive) of the run of screened rows of one sequence that starts at index i. */
    private int screenedRunEnd(int i, int screened) {
        long id = sequenceOf(i);
        int end = i + 1;
        while (end < screened && sequenceOf(end) == id) end++;
        return end;
    }

    /**
     * False while this stage has a greedy screen whose kernels are not compiled yet: its greedy rows take the whole
     * float32 head meanwhile, so a benchmark waits for this before it measures.
     */
    public boolean screenWarm() {
        return greedyScreen() == null || GreedyHead.warm();
    }

    /** The greedy screen, made on first use, or null when off or the head is not float32. */
    private GreedyHead greedyScreen() {
        if (!greedyScreen || !screenable) return null;
        if (greedyHead == null) greedyHead = GreedyHead.forHead(weights.output());
        return greedyHead;
    }

    /** q, k and v of all rows in one parallel section: the row range spans wq, then wk, then wv. */
    private final class QkvSection implements RangeTask {
        @Override
        public void run(int start, int end) {
            matmulPart(layer.wq(), q, dim, 0, start, end);
            matmulPart(layer.wk(), k, kvDim, dim, start, end);
            matmulPart(layer.wv(), v, kvDim, dim + kvDim, start, end);
            // RoPE and the cache writes of this piece's columns, while they are in this core's cache: done serially
            // after the section, their scattered stores (a transposed key touches a line per column) took 0.19 ms
            // of a 16-sequence step.
            int qs = Math.min(start, dim), qe = Math.min(end, dim);
            if (qs < qe) rotate(q, dim, qs, qe);
            int ks = Math.clamp(start - dim, 0, kvDim), ke = Math.clamp(end - dim, 0, kvDim);
            if (ks < ke) {
                rotate(k, kvDim, ks, ke);
                storeKeys(ks, ke);
            }
            int vs = Math.clamp(start - dim - kvDim, 0, kvDim), ve = Math.clamp(end - dim - kvDim, 0, kvDim);
            if (vs < ve) storeValues(vs, ve);
        }

        private void matmulPart(WeightMatrix w, float[] out, int width, int base, int start, int end) {
            int s = Math.max(start - base, 0);
            int e = Math.min(end - base, width);
            if (s < e) w.matmul(xn, 0, dim, rows, out, 0, width, s, e);
        }
    }

    /** Causal attention of one (row, head) per item over the row's sequence positions [0, position]. */
    private final class AttentionSection implements ChunkTask {
        @Override
        public void run(int thread, int start, int end) {
            float[] scores = attentionScores[thread];
            for (int item = start; item < end; item++) {
                int r = item / nHeads;
                int h = item % nHeads;
                attend(r, h, scores);
            }
        }

        /** Scores a page of positions at a time (the last page's slots past the row's position are ignored). */
        private void attend(int r, int h, float[] scores) {
            SequenceKv s = rowSequence[r];
            int n = batch.position(r) + 1;
            int qOff = r * dim + h * headDim;
            int headOff = (h / kvMul) * headDim;
            int keyCol = cache.keyBase(localLayer) + headOff * KvCache.PAGE_POSITIONS;
            for (int t0 = 0, p = 0; t0 < n; t0 += KvCache.PAGE_POSITIONS, p++) {
                Kernels.keyScores(q, qOff, s.pages[p], keyCol, headDim, attentionScale, scores, t0);
            }
            Kernels.softmax(scores, 0, n);
            Kernels.weightedValues(scores, n, s.pages, cache.valueOffset(localLayer, 0) + headOff, kvDim,
                    attended, r * dim + h * headDim, headDim);
        }
    }

    /** wo times the attention output, added into the residual stream for the chunk's columns. */
    private final class OutputProjectionSection implements RangeTask {
        @Override
        public void run(int start, int end) {
            layer.wo().matmul(attended, 0, dim, rows, projected, 0, dim, start, end);
            for (int r = 0; r < rows; r++) Kernels.add(projected, r * dim + start, x, r * dim + start, end - start);
        }
    }

    /** Gate (w1) and up (w3) projections and SwiGLU, fused per chunk of hidden units. */
    private final class FeedForwardUpSection implements RangeTask {
        @Override
        public void run(int start, int end) {
            layer.w1().matmul(xn, 0, dim, rows, gate, 0, hiddenDim, start, end);
            layer.w3().matmul(xn, 0, dim, rows, up, 0, hiddenDim, start, end);
            for (int r = 0; r < rows; r++) Kernels.swiGlu(gate, r * hiddenDim + start, up, r * hiddenDim + start, end - start);
        }
    }

    /** Down projection (w2), added into the residual stream for the chunk's columns. */
    private final class FeedForwardDownSection implements RangeTask {
        @Override
        public void run(int start, int end) {
            layer.w2().matmul(gate, 0, hiddenDim, rows, projected, 0, dim, start, end);
            for (int r = 0; r < rows; r++) Kernels.add(projected, r * dim + start, x, r * dim + start, end - start);
        }
    }

    /** The output head over a chunk of the vocabulary for the rows that want logits. */
    private final class HeadSection implements RangeTask {
        int count;

        @Override
        public void run(int start, int end) {
            weights.output().matmul(headInput, 0, dim, count, logits, 0, vocab, start, end);
        }
    }
}
