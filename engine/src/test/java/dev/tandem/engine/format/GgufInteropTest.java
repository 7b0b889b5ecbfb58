package dev.tandem.engine.format;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.Quantizer;
import dev.tandem.engine.tensor.TensorType;
import dev.tandem.engine.tensor.WeightMatrices;
import dev.tandem.engine.tensor.WeightMatrix;
import dev.tandem.engine.tokenizer.Vocabulary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.tandem.engine.tensor.GgmlReferenceTestAccess.segment;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Reads a GGUF file written by llama.cpp's Python package (resources/ggml-reference/make_tiny_llama.py):
 * mixed tensor types, llama.cpp's metadata conventions, its alignment and padding.
 */
class GgufInteropTest {

    @TempDir
    Path dir;

    @Test
    void readsAFileWrittenByGgufPy() throws IOException {
        Path file = dir.resolve("tiny-llama.gguf");
        try (InputStream in = GgufInteropTest.class.getResourceAsStream("/ggml-reference/tiny-llama.gguf")) {
            Files.copy(in, file);
        }
        try (LoadedModel model = ModelLoader.load(file, null)) {
            ModelConfig c = model.config();
            assertEquals(new ModelConfig(32, 64, 1, 2, 1, 261, 16, 1e-5f, 10000f, false), c);
            Vocabulary v = model.vocabulary().orElseThrow();
            assertEquals(261, v.size());
            assertEquals(" story", v.pieces().get(260));
            assertEquals("<0x41>", v.pieces().get(3 + 0x41));
            assertEquals(Vocabulary.TYPE_BYTE, v.tokenTypes()[3]);
            assertEquals(-260f, v.scores()[260]);
            assertEquals(1, v.bosId());

            ModelWeights w = model.weights();
            expect(w.tokenEmbedding(), TensorType.Q8_0);
            expect(w.output(), TensorType.Q8_0);
            expect(w.layers().get(0).wq(), TensorType.Q8_0);
            expect(w.layers().get(0).wk(), TensorType.F16);
            expect(w.layers().get(0).wv(), TensorType.BF16);
            expect(w.layers().get(0).wo(), TensorType.Q4_0);
            expect(w.layers().get(0).w1(), TensorType.Q8_0);
            expect(w.layers().get(0).w2(), TensorType.F32);
            expect(w.layers().get(0).w3(), TensorType.Q4_0);
            assertArrayEquals(values(1, 32), w.layers().get(0).attnNorm());
            assertArrayEquals(values(1, 32), w.finalNorm());
        }
    }

    /** The matrix has the type, and decodes exactly as Tandem's own quantizer would have encoded the values. */
    private static void expect(WeightMatrix m, TensorType type) {
        assertEquals(type, m.type());
        float[] original = values(m.rows(), m.cols());
        byte[] encoded = new byte[(int) type.bytesFor(original.length)];
        Quantizer.quantize(type, original, 0, original.length, encoded, 0);
        WeightMatrix reference = WeightMatrices.of(type, segment(encoded), m.rows(), m.cols());
        float[] expected = new float[m.cols()], actual = new float[m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            reference.readRow(r, expected, 0);
            m.readRow(r, actual, 0);
            assertArrayEquals(expected, actual, type + " row " + r);
        }
    }

    /** The generator's values: weight i (row-major) is ((i*37) % 101 - 50) / 64, exact in float. */
    private static float[] values(int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) (((i * 37L) % 101 - 50) / 64.0);
        return v;
    }
}
