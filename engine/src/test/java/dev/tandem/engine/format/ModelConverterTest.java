package dev.tandem.engine.format;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrix;
import dev.tandem.engine.tokenizer.Vocabulary;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Converting the real stories15M to GGUF and reading it back. */
class ModelConverterTest {

    @TempDir
    static Path dir;
    private static LoadedModel source;

    @BeforeAll
    static void load() {
        source = RealModel.load();
    }

    @AfterAll
    static void close() {
        if (source != null) source.close();
    }

    @Test
    void f32GgufHasBitIdenticalWeights() throws IOException {
        Path out = dir.resolve("stories15M-f32.gguf");
        ModelConverter.convert(source, source.vocabulary().orElseThrow(), out, TensorType.F32);
        assertEquals(ModelLoader.Format.GGUF, ModelLoader.detect(out));
        try (LoadedModel gguf = ModelLoader.load(out, null)) {
            assertEquals(source.config(), gguf.config());
            ModelWeights a = source.weights(), b = gguf.weights();
            assertBitIdentical(a.tokenEmbedding(), b.tokenEmbedding());
            assertSame(b.tokenEmbedding(), b.output(), "stories15M ties its output head to the embedding");
            assertArrayEquals(a.finalNorm(), b.finalNorm());
            for (int l = 0; l < a.layers().size(); l++) {
                LayerWeights x = a.layers().get(l), y = b.layers().get(l);
                assertArrayEquals(x.attnNorm(), y.attnNorm());
                assertArrayEquals(x.ffnNorm(), y.ffnNorm());
                for (WeightMatrix[] pair : List.of(new WeightMatrix[]{x.wq(), y.wq()}, new WeightMatrix[]{x.wk(), y.wk()},
                        new WeightMatrix[]{x.wv(), y.wv()}, new WeightMatrix[]{x.wo(), y.wo()}, new WeightMatrix[]{x.w1(), y.w1()},
                        new WeightMatrix[]{x.w2(), y.w2()}, new WeightMatrix[]{x.w3(), y.w3()})) {
                    assertBitIdentical(pair[0], pair[1]);
                }
            }
            assertSameVocabulary(source.vocabulary().orElseThrow(), gguf.vocabulary().orElseThrow());
        }
    }

    @Test
    void q8GgufKeepsConfigAndVocabulary() throws IOException {
        Path out = dir.resolve("stories15M-q8_0.gguf");
        ModelConverter.convert(source, source.vocabulary().orElseThrow(), out, TensorType.Q8_0);
        // about a quarter of the float32 size (34 bytes per 32 weights)
        assertTrue(Files.size(out) < Files.size(RealModel.modelBin()) * 0.3, "Q8_0 file is " + Files.size(out) + " bytes");
        try (LoadedModel gguf = ModelLoader.load(out, null)) {
            assertEquals(source.config(), gguf.config());
            assertEquals(TensorType.Q8_0, gguf.weights().layers().get(0).wq().type());
            assertEquals(TensorType.Q8_0, gguf.weights().tokenEmbedding().type());
            assertSameVocabulary(source.vocabulary().orElseThrow(), gguf.vocabulary().orElseThrow());
        }
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(out, arena);
            assertEquals("stories15M", g.getString("general.name"));
            assertEquals(7, g.getInt("general.file_type"));
            assertEquals("llama", g.getString("tokenizer.ggml.model"));
            assertEquals("\u2581Once", g.getStringArray("tokenizer.ggml.tokens").get(9038), "spaces are written as U+2581");
            assertEquals(TensorType.F32, g.tensor("blk.0.attn_norm.weight").orElseThrow().type().orElseThrow());
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".part")), "no temporary file is left");
        }
    }

    static void assertBitIdentical(WeightMatrix expected, WeightMatrix actual) {
        assertEquals(expected.rows(), actual.rows());
        assertEquals(expected.cols(), actual.cols());
        float[] a = new float[expected.cols()], b = new float[actual.cols()];
        for (int r = 0; r < expected.rows(); r++) {
            expected.readRow(r, a, 0);
            actual.readRow(r, b, 0);
            for (int c = 0; c < a.length; c++) {
                if (Float.floatToRawIntBits(a[c]) != Float.floatToRawIntBits(b[c])) {
                    throw new AssertionError("row " + r + " col " + c + ": " + a[c] + " != " + b[c]);
                }
            }
        }
    }

    static void assertSameVocabulary(Vocabulary expected, Vocabulary actual) {
        assertEquals(expected.pieces(), actual.pieces());
        assertArrayEquals(expected.scores(), actual.scores());
        assertArrayEquals(expected.tokenTypes(), actual.tokenTypes());
        assertEquals(expected.bosId(), actual.bosId());
        assertEquals(expected.eosId(), actual.eosId());
        assertEquals(expected.unkId(), actual.unkId());
    }
}
