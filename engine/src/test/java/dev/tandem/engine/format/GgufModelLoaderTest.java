package dev.tandem.engine.format;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tensor.Quantizer;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Consumer;

import static dev.tandem.engine.format.GgufCorruptionTest.indexOf;
import static dev.tandem.engine.format.GgufCorruptionTest.le;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GgufModelLoaderTest {

    @TempDir
    static Path dir;
    private static LoadedModel tiny;
    private static Path tinyGguf;

    @BeforeAll
    static void create() throws IOException {
        tiny = TinyModel.create();
        tinyGguf = dir.resolve("tiny-f32.gguf");
        ModelConverter.convert(tiny, null, tinyGguf, TensorType.F32);
    }

    @AfterAll
    static void close() {
        if (tiny != null) tiny.close();
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void tinyModelRoundTripsInEveryWritableType(TensorType quant) throws IOException {
        Path out = dir.resolve("tiny-" + quant + ".gguf");
        ModelConverter.convert(tiny, null, out, quant, "tiny");
        try (LoadedModel loaded = ModelLoader.load(out, null)) {
            assertEquals(TinyModel.CONFIG, loaded.config());
            assertNotSame(loaded.weights().tokenEmbedding(), loaded.weights().output(), "untied output head");
            WeightMatrix wk = loaded.weights().layers().get(1).wk();
            assertEquals(quant, wk.type());
            assertEquals(TinyModel.CONFIG.kvDim(), wk.rows());
            assertArrayEquals(tiny.weights().layers().get(1).ffnNorm(), loaded.weights().layers().get(1).ffnNorm());
            float[] expected = new float[wk.cols()], actual = new float[wk.cols()];
            tiny.weights().layers().get(1).wk().readRow(3, expected, 0);
            wk.readRow(3, actual, 0);
            float tolerance = switch (quant) { case F32 -> 0f; case F16 -> 1e-3f; case BF16 -> 2e-3f; case Q8_0 -> 3e-3f; default -> 0.05f; };
            assertArrayEquals(expected, actual, tolerance);
            ModelConverterTest.assertSameVocabulary(tiny.vocabulary().orElseThrow(), loaded.vocabulary().orElseThrow());
        }
    }

    @Test
    void unknownTensorTypeIsNamed() throws IOException {
        byte[] bytes = Files.readAllBytes(tinyGguf);
        String name = "blk.0.attn_q.weight";
        int typeAt = indexOf(bytes, name) + name.length() + 4 + 2 * 8;
        le(bytes).putInt(typeAt, 13);
        Path file = dir.resolve("q5k.gguf");
        Files.write(file, bytes);
        assertEquals(file + ": tensor blk.0.attn_q.weight has GGML type 13, which Tandem cannot read "
                + "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", loadFails(file).getMessage());
    }

    @Test
    void missingAndMistypedKeys() throws IOException {
        Path missing = rewrite("missing.gguf", Map.of("llama.block_count", (k, v) -> null), Map.of());
        assertEquals(missing + ": metadata key llama.block_count is missing", loadFails(missing).getMessage());
        Path mistyped = rewrite("mistyped.gguf", Map.of("llama.embedding_length", (k, v) -> GgufValue.string("64")), Map.of());
        assertEquals(mistyped + ": metadata key llama.embedding_length is STRING, expected an integer", loadFails(mistyped).getMessage());
        Path arch = rewrite("arch.gguf", Map.of("general.architecture", (k, v) -> GgufValue.string("gpt2")), Map.of());
        assertEquals(arch + " is a 'gpt2' model; Tandem runs llama-architecture models", loadFails(arch).getMessage());
        Path heads = rewrite("heads.gguf", Map.of("llama.attention.head_count", (k, v) -> GgufValue.uint32(5)), Map.of());
        loadFails(heads);
        Path bos = rewrite("bos.gguf", Map.of("tokenizer.ggml.bos_token_id", (k, v) -> GgufValue.uint32(300)), Map.of());
        loadFails(bos);
    }

    @Test
    void missingOrMisshapenTensors() throws IOException {
        Path missing = rewrite("no-ffn.gguf", Map.of(), Map.of("blk.1.ffn_up.weight", w -> { }));
        assertEquals(missing + ": tensor blk.1.ffn_up.weight is missing", loadFails(missing).getMessage());
        Path shape = rewrite("shape.gguf", Map.of(), Map.of("output_norm.weight",
                w -> w.addTensor("output_norm.weight", TensorType.F32, new long[]{32}, new byte[128])));
        assertEquals(shape + ": tensor output_norm.weight has shape [32], expected [64] (ggml order, columns first)",
                loadFails(shape).getMessage());
    }

    @Test
    void normsMayBeHalfPrecision() throws IOException {
        float[] norm = tiny.weights().layers().get(0).attnNorm();
        byte[] f16 = new byte[norm.length * 2];
        Quantizer.quantize(TensorType.F16, norm, 0, norm.length, f16, 0);
        Path file = rewrite("f16-norm.gguf", Map.of(), Map.of("blk.0.attn_norm.weight",
                w -> w.addTensor("blk.0.attn_norm.weight", TensorType.F16, new long[]{norm.length}, f16)));
        try (LoadedModel loaded = ModelLoader.load(file, null)) {
            assertArrayEquals(norm, loaded.weights().layers().get(0).attnNorm(), 1e-3f);
        }
    }

    private static ModelFormatException loadFails(Path file) {
        return assertThrows(ModelFormatException.class, () -> ModelLoader.load(file, null).close());
    }

    /**
     * Copies the tiny model's GGUF, letting edits replace (or with null, drop) metadata values, and
     * tensors: a tensor edit adds its replacement, if any, to the writer it is given.
     */
    private static Path rewrite(String name, Map<String, BiFunction<String, GgufValue, GgufValue>> metadataEdits,
                                Map<String, Consumer<GgufWriter>> tensorEdits) throws IOException {
        Path out = dir.resolve(name);
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(tinyGguf, arena);
            GgufWriter w = new GgufWriter();
            g.metadata().forEach((k, v) -> {
                GgufValue edited = metadataEdits.containsKey(k) ? metadataEdits.get(k).apply(k, v) : v;
                if (edited != null) w.put(k, edited);
            });
            for (GgufTensorInfo t : g.tensors()) {
                if (tensorEdits.containsKey(t.name())) {
                    tensorEdits.get(t.name()).accept(w);
                    continue;
                }
                w.addTensor(t.name(), g.readableType(t), t.dims(), g.tensorData(t));
            }
            w.write(out);
        }
        return out;
    }
}
