package dev.tandem.engine.format;

import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Damaged files fail with a ModelFormatException that names the file, whatever the damage. */
class GgufCorruptionTest {

    @TempDir
    Path dir;

    private byte[] validFile() throws IOException {
        GgufWriter w = new GgufWriter()
                .put("general.architecture", GgufValue.string("llama"))
                .put("tokenizer.ggml.tokens", GgufValue.strings(List.of("a", "bb", "ccc")))
                .put("t.nested", GgufValue.array(GgufType.ARRAY, new GgufValue[]{GgufValue.float32s(new float[]{1, 2})}))
                .addTensor("w", TensorType.Q8_0, new long[]{32, 2}, new byte[68])
                .addTensor("n", TensorType.F32, new long[]{5}, new byte[20]);
        Path file = dir.resolve("valid.gguf");
        w.write(file);
        return Files.readAllBytes(file);
    }

    private ModelFormatException failsToOpen(byte[] bytes) throws IOException {
        Path file = dir.resolve("broken.gguf");
        Files.write(file, bytes);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> {
            try (Arena arena = Arena.ofConfined()) {
                GgufFile.open(file, arena);
            }
        });
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        return e;
    }

    @Test
    void everyTruncationIsReportedCleanly() throws IOException {
        byte[] valid = validFile();
        int trailingPadding = 32 - 20; // after the last tensor's 20 bytes; a file without it is still whole
        for (int length = 0; length < valid.length - trailingPadding; length++) {
            failsToOpen(Arrays.copyOf(valid, length));
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] bytes = validFile();
        bytes[0] = 'X';
        assertTrue(failsToOpen(bytes).getMessage().contains("not a GGUF file"));
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] bytes = validFile();
        le(bytes).putInt(4, 1);
        assertTrue(failsToOpen(bytes).getMessage().contains("version 1"));
        le(bytes).putInt(4, Integer.reverseBytes(3));
        assertTrue(failsToOpen(bytes).getMessage().contains("big-endian"));
    }

    @Test
    void versionTwoHasTheSameLayout() throws IOException {
        byte[] bytes = validFile();
        le(bytes).putInt(4, 2);
        Path file = dir.resolve("v2.gguf");
        Files.write(file, bytes);
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals(2, g.version());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(2, g.tensors().size());
        }
    }

    @Test
    void absurdCountsAndLengths() throws IOException {
        byte[] valid = validFile();
        // tensor count, metadata count
        for (int at : new int[]{8, 16}) {
            byte[] bytes = valid.clone();
            le(bytes).putLong(at, Long.MAX_VALUE / 2);
            failsToOpen(bytes);
            le(bytes).putLong(at, -1);
            failsToOpen(bytes);
        }
        // the length of the tokens array: right after its key, value type and element type
        int arrayCount = indexOf(valid, "tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".length() + 4 + 4;
        byte[] bytes = valid.clone();
        le(bytes).putLong(arrayCount, 1L << 40);
        assertTrue(failsToOpen(bytes).getMessage().contains("tokenizer.ggml.tokens"));
        // a string length inside the array
        bytes = valid.clone();
        le(bytes).putLong(arrayCount + 8, Long.MAX_VALUE);
        failsToOpen(bytes);
        // an unknown value type
        bytes = valid.clone();
        le(bytes).putInt(indexOf(valid, "general.architecture") + "general.architecture".length(), 99);
        assertTrue(failsToOpen(bytes).getMessage().contains("not a GGUF value type"));
    }

    @Test
    void badTensorInfos() throws IOException {
        byte[] valid = validFile();
        int rank = indexOf(valid, "\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0000w") + 9; // name length 1, "w"
        byte[] bytes = valid.clone();
        le(bytes).putInt(rank, 9);
        assertTrue(failsToOpen(bytes).getMessage().contains("dimensions"));
        bytes = valid.clone();
        le(bytes).putLong(rank + 4, 0);
        failsToOpen(bytes);
        bytes = valid.clone();
        le(bytes).putLong(rank + 4, 1L << 62);
        le(bytes).putLong(rank + 12, 1L << 62);
        failsToOpen(bytes); // element count overflows
        bytes = valid.clone();
        le(bytes).putLong(rank + 4 + 16 + 4, 1L << 40); // offset far past the end
        assertTrue(failsToOpen(bytes).getMessage().contains("truncated"));
        bytes = valid.clone();
        le(bytes).putLong(rank + 4 + 16 + 4, 8); // misaligned offset
        assertTrue(failsToOpen(bytes).getMessage().contains("alignment"));
    }

    @Test
    void unknownTensorTypeFailsWhenUsed() throws IOException {
        byte[] bytes = validFile();
        int rank = indexOf(bytes, "\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0000w") + 9;
        le(bytes).putInt(rank + 4 + 16, 13); // Q5_K
        Path file = dir.resolve("q5k.gguf");
        Files.write(file, bytes);
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            GgufTensorInfo w = g.tensor("w").orElseThrow();
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> g.tensorData(w));
            assertTrue(e.getMessage().equals(file + ": tensor w has GGML type 13, which Tandem cannot read "
                    + "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)"), e.getMessage());
        }
    }

    static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    static int indexOf(byte[] haystack, String needle) {
        byte[] n = needle.getBytes(StandardCharsets.ISO_8859_1);
        outer:
        for (int i = 0; i + n.length <= haystack.length; i++) {
            for (int j = 0; j < n.length; j++) if (haystack[i + j] != n[j]) continue outer;
            return i;
        }
        throw new AssertionError(needle + " not found");
    }
}
