package dev.tandem.engine.format;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads llama2.c's {@code model.bin}: a header of seven int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate output head), then float32
 * tensors grouped by kind across layers, the unused RoPE tables, and the optional output head.
 * The tensors are memory-mapped, never copied onto the heap (only the small norm vectors are).
 */
public final class Llama2cModelLoader {

    private static final int HEADER_BYTES = 7 * Integer.BYTES;
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** llama2.c models are trained with these; the format does not store them. */
    private static final float NORM_EPS = 1e-5f;
    private static final float ROPE_THETA = 10000f;

    private Llama2cModelLoader() {}

    public static LoadedModel load(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment all = MappedFile.map(file, arena);
            ModelWeights weights = parse(file, all);
            return new LoadedModel(file, weights, Optional.empty(), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Reads the header only; throws if the file is too short to hold one. */
    public static ModelConfig readConfig(Path file, MemorySegment all) {
        if (all.byteSize() < HEADER_BYTES) {
            throw new ModelFormatException(file + " is " + all.byteSize() + " bytes, too short for a llama2.c header");
        }
        int dim = all.get(LE_INT, 0);
        int hidden = all.get(LE_INT, 4);
        int layers = all.get(LE_INT, 8);
        int heads = all.get(LE_INT, 12);
        int kvHeads = all.get(LE_INT, 16);
        int vocab = all.get(LE_INT, 20);
        int seqLen = all.get(LE_INT, 24);
        try {
            return new ModelConfig(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), seqLen, NORM_EPS, ROPE_THETA, vocab > 0);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + " has no valid llama2.c header: " + e.getMessage());
        }
    }

    private static ModelWeights parse(Path file, MemorySegment all) {
        ModelConfig c = readConfig(file, all);
        long dim = c.dim(), hidden = c.hiddenDim(), kvDim = c.kvDim(), layers = c.nLayers(), vocab = c.vocabSize();
        long floats = vocab * dim + layers * dim + layers * dim * dim + 2 * layers * dim * kvDim + layers * dim * dim
                + layers * dim + 3 * layers * dim * hidden + dim + (long) c.seqLen() * c.headDim();
        if (!c.tiedEmbedding()) floats += vocab * dim;
        long expected = HEADER_BYTES + floats * Float.BYTES;
        if (all.byteSize() != expected) {
            throw new ModelFormatException(file + " is " + all.byteSize() + " bytes but its header (" + c
                    + ") needs " + expected + " bytes: the file is truncated or not a llama2.c model");
        }
        Cursor cur = new Cursor(all, HEADER_BYTES);
        WeightMatrix embedding = cur.matrix((int) vocab, (int) dim);
        float[][] attnNorm = cur.vectors((int) layers, (int) dim);
        WeightMatrix[] wq = cur.matrices((int) layers, (int) dim, (int) dim);
        WeightMatrix[] wk = cur.matrices((int) layers, (int) kvDim, (int) dim);
        WeightMatrix[] wv = cur.matrices((int) layers, (int) kvDim, (int) dim);
        WeightMatrix[] wo = cur.matrices((int) layers, (int) dim, (int) dim);
        float[][] ffnNorm = cur.vectors((int) layers, (int) dim);
        WeightMatrix[] w1 = cur.matrices((int) layers, (int) hidden, (int) dim);
        WeightMatrix[] w2 = cur.matrices((int) layers, (int) dim, (int) hidden);
        WeightMatrix[] w3 = cur.matrices((int) layers, (int) hidden, (int) dim);
        float[] finalNorm = cur.vectors(1, (int) dim)[0];
        cur.skip((long) c.seqLen() * c.headDim() * Float.BYTES); // freq_cis_real and freq_cis_imag, recomputed instead
        WeightMatrix output = c.tiedEmbedding() ? embedding : cur.matrix((int) vocab, (int) dim);
        List<LayerWeights> list = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            list.add(new LayerWeights(attnNorm[l], wq[l], wk[l], wv[l], wo[l], ffnNorm[l], w1[l], w2[l], w3[l]));
        }
        return new ModelWeights(c, embedding, List.copyOf(list), finalNorm, output);
    }

    private static final class Cursor {
        private final MemorySegment all;
        private long offset;

        Cursor(MemorySegment all, long offset) {
            this.all = all;
            this.offset = offset;
        }

        WeightMatrix matrix(int rows, int cols) {
            long bytes = (long) rows * cols * Float.BYTES;
            WeightMatrix m = new F32Matrix(all.asSlice(offset, bytes), rows, cols);
            offset += bytes;
            return m;
        }

        WeightMatrix[] matrices(int n, int rows, int cols) {
            WeightMatrix[] ms = new WeightMatrix[n];
            for (int i = 0; i < n; i++) ms[i] = matrix(rows, cols);
            return ms;
        }

        float[][] vectors(int n, int len) {
            float[][] vs = new float[n][len];
            for (int i = 0; i < n; i++) {
                MemorySegment.copy(all, LE_FLOAT, offset, vs[i], 0, len);
                offset += (long) len * Float.BYTES;
            }
            return vs;
        }

        void skip(long bytes) {
            offset += bytes;
        }
    }
}
