package dev.tandem.engine.format;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.QuantKernel;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrices;
import dev.tandem.engine.tensor.WeightMatrix;
import dev.tandem.engine.tokenizer.Vocabulary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static dev.tandem.engine.format.LlamaGgufNames.*;

/**
 * Loads a llama-architecture GGUF file: the config from {@code llama.*} metadata, the weights
 * memory-mapped in whatever type each tensor has (see {@link WeightMatrices}), the norms copied to
 * float arrays, and the vocabulary from {@code tokenizer.ggml.*} when the file has one. Queries and
 * keys are used as stored: llama.cpp's converters write them in the Meta layout the forward pass expects.
 */
public final class GgufModelLoader {

    private static final int DEFAULT_BOS = 1;
    private static final int DEFAULT_EOS = 2;
    private static final int DEFAULT_UNK = 0;

    private GgufModelLoader() {}

    public static LoadedModel load(Path file) {
        return load(file, QuantKernel.DECODE_ROW);
    }

    /** Loads with the given kernel for Q8_0 and Q4_0 matrices. */
    public static LoadedModel load(Path file, QuantKernel kernel) {
        Arena arena = Arena.ofShared();
        try {
            GgufFile gguf = GgufFile.open(file, arena);
            return new LoadedModel(file, weights(gguf, kernel), vocabulary(gguf), arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The model hyper-parameters; {@code llama.vocab_size} defaults to the rows of the token embedding. */
    public static ModelConfig config(GgufFile g) {
        String arch = g.getString(ARCHITECTURE);
        if (!arch.equals(LLAMA)) {
            throw new ModelFormatException(g.path() + " is a '" + arch + "' model; Tandem runs llama-architecture models");
        }
        int dim = g.getInt(EMBEDDING_LENGTH);
        int heads = g.getInt(HEAD_COUNT);
        GgufTensorInfo embedding = require(g, TOKEN_EMBEDDING);
        int vocab = g.has(VOCAB_SIZE) ? g.getInt(VOCAB_SIZE) : (int) Math.min(Integer.MAX_VALUE, embedding.dims()[embedding.rank() - 1]);
        try {
            return new ModelConfig(dim, g.getInt(FEED_FORWARD_LENGTH), g.getInt(BLOCK_COUNT), heads,
                    g.getInt(HEAD_COUNT_KV, heads), vocab, g.getInt(CONTEXT_LENGTH),
                    g.getFloat(RMS_EPSILON, DEFAULT_RMS_EPSILON), g.getFloat(ROPE_FREQ_BASE, DEFAULT_ROPE_FREQ_BASE),
                    g.tensor(OUTPUT).isEmpty());
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(g.path() + " has an invalid llama config: " + e.getMessage());
        }
    }

    public static ModelWeights weights(GgufFile g) {
        return weights(g, QuantKernel.DECODE_ROW);
    }

    public static ModelWeights weights(GgufFile g, QuantKernel kernel) {
        ModelConfig c = config(g);
        int dim = c.dim(), kvDim = c.kvDim(), hidden = c.hiddenDim();
        WeightMatrix embedding = matrix(g, kernel, TOKEN_EMBEDDING, c.vocabSize(), dim);
        List<LayerWeights> layers = new ArrayList<>(c.nLayers());
        for (int l = 0; l < c.nLayers(); l++) {
            layers.add(new LayerWeights(
                    vector(g, attnNorm(l), dim),
                    matrix(g, kernel, attnQ(l), dim, dim),
                    matrix(g, kernel, attnK(l), kvDim, dim),
                    matrix(g, kernel, attnV(l), kvDim, dim),
                    matrix(g, kernel, attnOutput(l), dim, dim),
                    vector(g, ffnNorm(l), dim),
                    matrix(g, kernel, ffnGate(l), hidden, dim),
                    matrix(g, kernel, ffnDown(l), dim, hidden),
                    matrix(g, kernel, ffnUp(l), hidden, dim)));
        }
        float[] finalNorm = vector(g, OUTPUT_NORM, dim);
        WeightMatrix output = c.tiedEmbedding() ? embedding : matrix(g, kernel, OUTPUT, c.vocabSize(), dim);
        return new ModelWeights(c, embedding, List.copyOf(layers), finalNorm, output);
    }

    /** The vocabulary in the file's {@code tokenizer.ggml.*} keys, or empty when it has no tokens. */
    public static Optional<Vocabulary> vocabulary(GgufFile g) {
        if (!g.has(TOKENS)) return Optional.empty();
        List<String> raw = g.getStringArray(TOKENS);
        int n = raw.size();
        List<String> pieces = raw.stream().map(p -> p.replace(SPACE_MARK, " ")).toList();
        float[] scores = g.has(SCORES) ? g.getFloatArray(SCORES) : new float[n];
        int[] types = g.has(TOKEN_TYPES) ? g.getIntArray(TOKEN_TYPES) : filled(n, Vocabulary.TYPE_NORMAL);
        if (scores.length != n || types.length != n) {
            throw new ModelFormatException(g.path() + " has " + n + " tokens but " + scores.length + " scores and "
                    + types.length + " token types");
        }
        int bos = tokenId(g, BOS_ID, DEFAULT_BOS, n);
        int eos = tokenId(g, EOS_ID, DEFAULT_EOS, n);
        int unk = tokenId(g, UNK_ID, DEFAULT_UNK, n);
        if (g.has(EMBEDDING_LENGTH)) {
            int vocab = config(g).vocabSize();
            if (vocab != n) {
                throw new ModelFormatException(g.path() + " has " + n + " tokens but a vocabulary size of " + vocab);
            }
        }
        return Optional.of(new Vocabulary(pieces, scores, types, bos, eos, unk));
    }

    private static int tokenId(GgufFile g, String key, int defaultId, int vocab) {
        int id = g.getInt(key, defaultId);
        if (id < 0 || id >= vocab) {
            throw new ModelFormatException(g.path() + ": " + key + " is " + id + ", outside the " + vocab + " tokens");
        }
        return id;
    }

    private static int[] filled(int n, int value) {
        int[] a = new int[n];
        Arrays.fill(a, value);
        return a;
    }

    private static GgufTensorInfo require(GgufFile g, String name) {
        return g.tensor(name).orElseThrow(() -> new ModelFormatException(g.path() + ": tensor " + name + " is missing"));
    }

    /** A [rows, cols] matrix, stored in GGUF as dims [cols, rows]. */
    private static WeightMatrix matrix(GgufFile g, QuantKernel kernel, String name, int rows, int cols) {
        GgufTensorInfo t = require(g, name);
        expectShape(g, t, cols, rows);
        TensorType type = g.readableType(t);
        try {
            return WeightMatrices.of(type, g.tensorData(t), rows, cols, kernel);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(g.path() + ": tensor " + name + ": " + e.getMessage());
        }
    }

    /** A norm vector, copied to the heap as floats whatever its type. */
    private static float[] vector(GgufFile g, String name, int n) {
        GgufTensorInfo t = require(g, name);
        expectShape(g, t, n);
        TensorType type = g.readableType(t);
        MemorySegment data = g.tensorData(t);
        float[] v = new float[n];
        try {
            WeightMatrices.of(type, data, 1, n).readRow(0, v, 0);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(g.path() + ": tensor " + name + ": " + e.getMessage());
        }
        return v;
    }

    private static void expectShape(GgufFile g, GgufTensorInfo t, long... dims) {
        if (!Arrays.equals(t.dims(), dims)) {
            throw new ModelFormatException(g.path() + ": tensor " + t.name() + " has shape " + t.shape()
                    + ", expected " + Arrays.toString(dims) + " (ggml order, columns first)");
        }
    }
}
