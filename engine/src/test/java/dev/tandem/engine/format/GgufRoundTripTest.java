package dev.tandem.engine.format;

import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgufRoundTripTest {

    @TempDir
    Path dir;

    static Map<String, GgufValue> everyType() {
        return Map.ofEntries(
                Map.entry("t.uint8", GgufValue.uint8(255)),
                Map.entry("t.int8", GgufValue.int8(-128)),
                Map.entry("t.uint16", GgufValue.uint16(65535)),
                Map.entry("t.int16", GgufValue.int16(-32768)),
                Map.entry("t.uint32", GgufValue.uint32(0xffff_ffffL)),
                Map.entry("t.int32", GgufValue.int32(Integer.MIN_VALUE)),
                Map.entry("t.uint64", GgufValue.uint64(-1L)),
                Map.entry("t.int64", GgufValue.int64(Long.MIN_VALUE)),
                Map.entry("t.float32", GgufValue.float32(1.5e-5f)),
                Map.entry("t.float64", GgufValue.float64(Math.PI)),
                Map.entry("t.bool", GgufValue.bool(true)),
                Map.entry("t.string", GgufValue.string("héllo ▁world 🦙")),
                Map.entry("t.empty_string", GgufValue.string("")),
                Map.entry("t.strings", GgufValue.strings(List.of("<unk>", "<s>", "", "▁the"))),
                Map.entry("t.floats", GgufValue.float32s(new float[]{0f, -1f, Float.NaN, Float.MAX_VALUE})),
                Map.entry("t.int32s", GgufValue.int32s(new int[]{1, 2, 3, 6, -7})),
                Map.entry("t.uint8s", GgufValue.array(GgufType.UINT8, new long[]{0, 7, 255})),
                Map.entry("t.int64s", GgufValue.array(GgufType.INT64, new long[]{Long.MAX_VALUE, -1})),
                Map.entry("t.doubles", GgufValue.array(GgufType.FLOAT64, new double[]{1e300, -0.0})),
                Map.entry("t.bools", GgufValue.array(GgufType.BOOL, new boolean[]{true, false, true})),
                Map.entry("t.empty", GgufValue.array(GgufType.UINT32, new long[0])),
                Map.entry("t.nested", GgufValue.array(GgufType.ARRAY, new GgufValue[]{
                        GgufValue.int32s(new int[]{1, 2}), GgufValue.strings(List.of("a", "b", "c"))})));
    }

    @Test
    void metadataAndTensorsSurviveARoundTrip() throws IOException {
        GgufWriter w = new GgufWriter();
        everyType().forEach(w::put);
        byte[] odd = new byte[3 * 4]; // 3 floats: not a multiple of the alignment, so padding follows
        for (int i = 0; i < odd.length; i++) odd[i] = (byte) i;
        byte[] q8 = new byte[2 * 34];
        for (int i = 0; i < q8.length; i++) q8[i] = (byte) (i * 7);
        w.addTensor("odd", TensorType.F32, new long[]{3}, odd);
        w.addTensor("blk.0.q8", TensorType.Q8_0, new long[]{32, 2}, q8);
        w.addTensor("cube", TensorType.F16, new long[]{2, 3, 4}, new byte[2 * 3 * 4 * 2]);
        Path file = dir.resolve("round.gguf");
        w.write(file);

        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals(3, g.version());
            assertEquals(32, g.alignment());
            assertEquals(everyType(), g.metadata());
            assertEquals(List.of("odd", "blk.0.q8", "cube"), g.tensors().stream().map(GgufTensorInfo::name).toList());
            for (GgufTensorInfo t : g.tensors()) assertEquals(0, t.offset() % 32, t.name());
            assertArrayEquals(odd, bytes(g.tensorData(g.tensor("odd").orElseThrow())));
            GgufTensorInfo q = g.tensor("blk.0.q8").orElseThrow();
            assertArrayEquals(new long[]{32, 2}, q.dims());
            assertEquals(TensorType.Q8_0, q.type().orElseThrow());
            assertArrayEquals(q8, bytes(g.tensorData(q)));
            assertEquals(24, g.tensor("cube").orElseThrow().elementCount());
            assertTrue(GgufFile.hasMagic(MappedFile.map(file, arena)));
        }
    }

    @Test
    void typedGettersConvertAndExplain() throws IOException {
        GgufWriter w = new GgufWriter();
        everyType().forEach(w::put);
        Path file = dir.resolve("typed.gguf");
        w.write(file);
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals(255, g.getInt("t.uint8"));
            assertEquals(-128, g.getInt("t.int8"));
            assertEquals(0xffff_ffffL, g.getLong("t.uint32"));
            assertEquals(1.5e-5f, g.getFloat("t.float32"));
            assertEquals((float) Math.PI, g.getFloat("t.float64"));
            assertTrue(g.getBool("t.bool"));
            assertEquals("héllo ▁world 🦙", g.getString("t.string"));
            assertEquals(List.of("<unk>", "<s>", "", "▁the"), g.getStringArray("t.strings"));
            assertArrayEquals(new int[]{1, 2, 3, 6, -7}, g.getIntArray("t.int32s"));
            assertArrayEquals(new int[]{0, 7, 255}, g.getIntArray("t.uint8s"));
            assertEquals(42, g.getInt("absent", 42));
            assertFalse(g.has("absent"));

            ModelFormatException missing = assertThrows(ModelFormatException.class, () -> g.getInt("llama.block_count"));
            assertEquals(file + ": metadata key llama.block_count is missing", missing.getMessage());
            ModelFormatException wrong = assertThrows(ModelFormatException.class, () -> g.getInt("t.string"));
            assertEquals(file + ": metadata key t.string is STRING, expected an integer", wrong.getMessage());
            ModelFormatException wrongArray = assertThrows(ModelFormatException.class, () -> g.getStringArray("t.floats"));
            assertEquals(file + ": metadata key t.floats is ARRAY of FLOAT32, expected ARRAY of STRING", wrongArray.getMessage());
            assertThrows(ModelFormatException.class, () -> g.getInt("t.uint32")); // does not fit an int
            assertThrows(ModelFormatException.class, () -> g.getLong("t.uint64")); // does not fit a long
            assertThrows(ModelFormatException.class, () -> g.getFloat("t.int32"));
        }
    }

    @Test
    void honoursACustomAlignment() throws IOException {
        GgufWriter w = new GgufWriter().put(GgufFile.ALIGNMENT_KEY, GgufValue.uint32(64));
        w.addTensor("a", TensorType.F32, new long[]{1}, new byte[4]);
        w.addTensor("b", TensorType.F32, new long[]{1}, new byte[]{1, 2, 3, 4});
        Path file = dir.resolve("aligned.gguf");
        w.write(file);
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            assertEquals(64, g.alignment());
            assertEquals(64, g.tensor("b").orElseThrow().offset());
            assertArrayEquals(new byte[]{1, 2, 3, 4}, bytes(g.tensorData(g.tensor("b").orElseThrow())));
        }
    }

    @Test
    void writerChecksTensorSizes() {
        GgufWriter w = new GgufWriter().addTensor("short", TensorType.F32, new long[]{4}, new byte[15]);
        assertThrows(IllegalStateException.class, () -> w.write(dir.resolve("bad.gguf")));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().addTensor("q", TensorType.Q8_0, new long[]{31}, new byte[34]));
    }

    static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }
}
