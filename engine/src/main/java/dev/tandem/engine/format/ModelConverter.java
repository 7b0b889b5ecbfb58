package dev.tandem.engine.format;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.Quantizer;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrix;
import dev.tandem.engine.tokenizer.Vocabulary;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static dev.tandem.engine.format.LlamaGgufNames.*;

/**
 * Writes a loaded model (of any format) as a llama-architecture GGUF file that llama.cpp and
 * {@link GgufModelLoader} read: weight matrices in the chosen type, norms in F32, the vocabulary
 * in {@code tokenizer.ggml.*}. Matrices are re-encoded row by row, so memory use stays small.
 * The file appears atomically: it is written to a temporary file beside {@code out}, then moved.
 */
public final class ModelConverter {

    /** llama.cpp's llama_ftype for each type Tandem writes ("mostly": norms stay F32). */
    private static final int FTYPE_ALL_F32 = 0;
    private static final int FTYPE_MOSTLY_F16 = 1;
    private static final int FTYPE_MOSTLY_Q4_0 = 2;
    private static final int FTYPE_MOSTLY_Q8_0 = 7;
    private static final int FTYPE_MOSTLY_BF16 = 32;
    /** ggml's current quantization format version (QK blocks as in {@link Quantizer}). */
    private static final int GGML_QUANTIZATION_VERSION = 2;
    private static final int BUFFER_BYTES = 1 << 20;

    private ModelConverter() {}

    /** Converts, naming the model after its source file ({@code general.name}). */
    public static void convert(LoadedModel source, Vocabulary vocab, Path out, TensorType quant) throws IOException {
        convert(source, vocab, out, quant, defaultName(source.source()));
    }

    /**
     * @param vocab the vocabulary to embed; null means the source's own, if it has one
     * @param quant type of the weight matrices: F32, F16, BF16, Q8_0 or Q4_0
     */
    public static void convert(LoadedModel source, Vocabulary vocab, Path out, TensorType quant, String name) throws IOException {
        if (!Quantizer.WRITABLE.contains(quant)) {
            throw new IllegalArgumentException("Tandem cannot write " + quant + " weights (it writes " + Quantizer.WRITABLE + ")");
        }
        ModelWeights w = source.weights();
        ModelConfig c = w.config();
        Vocabulary v = vocab != null ? vocab : source.vocabulary().orElse(null);
        if (v != null && v.size() != c.vocabSize()) {
            throw new IllegalArgumentException("the vocabulary has " + v.size() + " tokens but the model " + c.vocabSize());
        }
        GgufWriter writer = new GgufWriter();
        putConfig(writer, c, quant, name);
        if (v != null) putVocabulary(writer, v);
        addMatrix(writer, TOKEN_EMBEDDING, w.tokenEmbedding(), quant);
        List<LayerWeights> layers = w.layers();
        for (int l = 0; l < layers.size(); l++) {
            LayerWeights lw = layers.get(l);
            addVector(writer, attnNorm(l), lw.attnNorm());
            addMatrix(writer, attnQ(l), lw.wq(), quant);
            addMatrix(writer, attnK(l), lw.wk(), quant);
            addMatrix(writer, attnV(l), lw.wv(), quant);
            addMatrix(writer, attnOutput(l), lw.wo(), quant);
            addVector(writer, ffnNorm(l), lw.ffnNorm());
            addMatrix(writer, ffnGate(l), lw.w1(), quant);
            addMatrix(writer, ffnDown(l), lw.w2(), quant);
            addMatrix(writer, ffnUp(l), lw.w3(), quant);
        }
        addVector(writer, OUTPUT_NORM, w.finalNorm());
        if (!c.tiedEmbedding()) addMatrix(writer, OUTPUT, w.output(), quant);
        writeAtomically(writer, out);
    }

    private static void putConfig(GgufWriter w, ModelConfig c, TensorType quant, String name) {
        w.put(ARCHITECTURE, GgufValue.string(LLAMA));
        w.put(NAME, GgufValue.string(name));
        w.put(FILE_TYPE, GgufValue.uint32(fileType(quant)));
        if (quant.blockSize() > 1) w.put(QUANTIZATION_VERSION, GgufValue.uint32(GGML_QUANTIZATION_VERSION));
        w.put(CONTEXT_LENGTH, GgufValue.uint32(c.seqLen()));
        w.put(EMBEDDING_LENGTH, GgufValue.uint32(c.dim()));
        w.put(BLOCK_COUNT, GgufValue.uint32(c.nLayers()));
        w.put(FEED_FORWARD_LENGTH, GgufValue.uint32(c.hiddenDim()));
        w.put(ROPE_DIMENSION_COUNT, GgufValue.uint32(c.headDim()));
        w.put(HEAD_COUNT, GgufValue.uint32(c.nHeads()));
        w.put(HEAD_COUNT_KV, GgufValue.uint32(c.nKvHeads()));
        w.put(RMS_EPSILON, GgufValue.float32(c.normEps()));
        w.put(ROPE_FREQ_BASE, GgufValue.float32(c.ropeTheta()));
        w.put(VOCAB_SIZE, GgufValue.uint32(c.vocabSize()));
    }

    private static void putVocabulary(GgufWriter w, Vocabulary v) {
        w.put(TOKENIZER_MODEL, GgufValue.string(TOKENIZER_LLAMA));
        w.put(TOKENS, GgufValue.strings(v.pieces().stream().map(p -> p.replace(" ", SPACE_MARK)).toList()));
        w.put(SCORES, GgufValue.float32s(v.scores()));
        w.put(TOKEN_TYPES, GgufValue.int32s(v.tokenTypes()));
        w.put(BOS_ID, GgufValue.uint32(v.bosId()));
        w.put(EOS_ID, GgufValue.uint32(v.eosId()));
        w.put(UNK_ID, GgufValue.uint32(v.unkId()));
    }

    private static int fileType(TensorType quant) {
        return switch (quant) {
            case F32 -> FTYPE_ALL_F32;
            case F16 -> FTYPE_MOSTLY_F16;
            case BF16 -> FTYPE_MOSTLY_BF16;
            case Q8_0 -> FTYPE_MOSTLY_Q8_0;
            case Q4_0 -> FTYPE_MOSTLY_Q4_0;
            default -> throw new IllegalArgumentException(quant.name());
        };
    }

    /** Re-encodes the matrix one row at a time: decode (exact for F32 sources), then quantize. */
    private static void addMatrix(GgufWriter w, String name, WeightMatrix m, TensorType quant) {
        int rows = m.rows(), cols = m.cols();
        if (cols % quant.blockSize() != 0) {
            throw new IllegalArgumentException("cannot write " + name + " as " + quant + ": its " + cols
                    + " columns are not a multiple of the block size " + quant.blockSize());
        }
        w.addTensor(name, quant, new long[]{cols, rows}, out -> {
            float[] row = new float[cols];
            byte[] encoded = new byte[(int) quant.bytesFor(cols)];
            for (int r = 0; r < rows; r++) {
                m.readRow(r, row, 0);
                out.write(encoded, 0, Quantizer.quantize(quant, row, 0, cols, encoded, 0));
            }
        });
    }

    private static void addVector(GgufWriter w, String name, float[] v) {
        byte[] bytes = new byte[v.length * Float.BYTES];
        Quantizer.quantize(TensorType.F32, v, 0, v.length, bytes, 0);
        w.addTensor(name, TensorType.F32, new long[]{v.length}, bytes);
    }

    private static void writeAtomically(GgufWriter writer, Path out) throws IOException {
        Path target = out.toAbsolutePath();
        // not Files.createTempFile: its owner-only permissions would stick to the model file
        Path temp = target.resolveSibling("." + target.getFileName() + "." + ProcessHandle.current().pid()
                + "." + System.nanoTime() + ".part");
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                OutputStream stream = new BufferedOutputStream(Channels.newOutputStream(ch), BUFFER_BYTES);
                writer.write(stream);
                stream.flush();
                ch.force(true); // the bytes are on disk before the name points at them
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** "stories15M" for .../stories15M/model.bin, else the file name without its extension. */
    static String defaultName(Path source) {
        String file = source.getFileName().toString();
        String stem = file.contains(".") ? file.substring(0, file.lastIndexOf('.')) : file;
        Path parent = source.toAbsolutePath().getParent();
        boolean generic = stem.equals("model") || stem.equals("ggml-model");
        return generic && parent != null && parent.getFileName() != null ? parent.getFileName().toString() : stem;
    }
}
