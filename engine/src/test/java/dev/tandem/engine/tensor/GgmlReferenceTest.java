package dev.tandem.engine.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Compares Tandem's quantizers and decoders with vectors that llama.cpp's own Python package
 * (gguf-py, which mirrors ggml's reference code) produced; see resources/ggml-reference/make_fixtures.py.
 */
class GgmlReferenceTest {

    private static final int COLS = 256;

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F16", "BF16", "Q8_0", "Q4_0"})
    void quantizerIsBitExactWithGgml(TensorType type) throws IOException {
        float[] input = floats(resource("input.f32"));
        byte[] expected = resource(name(type) + ".bytes");
        byte[] actual = new byte[expected.length];
        int written = Quantizer.quantize(type, input, 0, input.length, actual, 0);
        assertEquals(expected.length, written);
        assertArrayEquals(expected, actual);
    }

    @ParameterizedTest
    @EnumSource(value = TensorType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void decodingMatchesGgml(TensorType type) throws IOException {
        byte[] bytes = resource(name(type) + ".bytes");
        float[] expected = floats(resource(name(type) + ".dequantized.f32"));
        int rows = expected.length / COLS;
        WeightMatrix m = WeightMatrices.of(type, segment(bytes), rows, COLS);
        float[] row = new float[COLS];
        for (int r = 0; r < rows; r++) {
            m.readRow(r, row, 0);
            for (int c = 0; c < COLS; c++) {
                float e = expected[r * COLS + c];
                assertEquals(e, row[c], Math.abs(e) * 1e-6f, type + " row " + r + " col " + c);
            }
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3f80, Quantizer.toBf16(1.0f));
        assertEquals((short) 0x3f80, Quantizer.toBf16(Float.intBitsToFloat(0x3f808000))); // tie, even stays
        assertEquals((short) 0x3f82, Quantizer.toBf16(Float.intBitsToFloat(0x3f818000))); // tie, odd rounds up
        assertEquals(1.0f, BF16Matrix.toFloat((short) 0x3f80));
    }

    static String name(TensorType type) {
        return type.name().toLowerCase(Locale.ROOT);
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = GgmlReferenceTest.class.getResourceAsStream("/ggml-reference/" + name)) {
            if (in == null) throw new IOException("missing test resource " + name);
            return in.readAllBytes();
        }
    }

    static float[] floats(byte[] bytes) {
        float[] f = new float[bytes.length / Float.BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
        return f;
    }

    static MemorySegment segment(byte[] bytes) {
        MemorySegment s = Arena.ofAuto().allocate(bytes.length, 64);
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }
}
