package dev.tandem.engine.draft;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DraftCheckpointTest {

    private static final DraftConfig CONFIG = new DraftConfig(16, 40, 2, 4, 2, 50, 7, 32, 1e-5f, 10000f);
    private static final ReducedVocabulary VOCABULARY = new ReducedVocabulary(new int[]{0, 1, 2, 9, 17, 30, 49}, 50);

    @TempDir
    Path dir;

    private static DraftModel model() {
        return DraftModel.random(CONFIG, VOCABULARY, 5).withVersion(42, "cooking");
    }

    @Test
    void roundTripKeepsVersionClassConfigVocabularyAndWeights() {
        DraftModel original = model();
        Path file = dir.resolve("cooking" + DraftCheckpoint.EXTENSION);
        DraftCheckpoint.write(file, original);
        DraftModel read = DraftCheckpoint.read(file);
        assertEquals(42, read.version());
        assertEquals("cooking", read.trafficClass());
        assertEquals(CONFIG, read.config());
        assertEquals(VOCABULARY, read.vocabulary());
        List<float[]> a = original.parameters().arrays();
        List<float[]> b = read.parameters().arrays();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "parameter array " + i);
        assertArrayEquals(logits(original), logits(read));
        assertEquals(CONFIG.parameterCount() * Float.BYTES, sizeOfWeights(file));
    }

    /** The draft runs as a stage whose logits cover only the reduced vocabulary. */
    @Test
    void theHeadCoversTheReducedVocabulary() {
        try (ParallelRunner runner = new ParallelRunner(1)) {
            DraftModel m = model();
            LlamaStage stage = new LlamaStage(m.weights(), 0, CONFIG.nLayers(), runner, 4);
            ForwardBatch b = new ForwardBatch(CONFIG.dim(), 4);
            b.addToken(0, 0, 1, false);
            b.addToken(0, 1, 48, true); // any target token can be read, even outside the head
            StageOutput out = stage.forward(b);
            assertEquals(VOCABULARY.size(), out.vocabSize());
            assertEquals(3, VOCABULARY.indexOf(9));
            assertEquals(-1, VOCABULARY.indexOf(10));
        }
    }

    @Test
    void badFilesAreRejectedWithTheFileName() throws IOException {
        Path good = dir.resolve("good.draft");
        DraftCheckpoint.write(good, model());
        byte[] bytes = Files.readAllBytes(good);

        assertBad(dir.resolve("missing.draft"), "cannot read");
        byte[] magic = bytes.clone();
        magic[0] = 'X';
        assertBad(write("magic.draft", magic), "bad magic");
        byte[] version = bytes.clone();
        ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(DraftCheckpoint.MAGIC.length, 99);
        assertBad(write("version.draft", version), "format version 99");
        assertBad(write("truncated.draft", Arrays.copyOf(bytes, bytes.length - 100)), "truncated");
        assertBad(write("header.draft", Arrays.copyOf(bytes, 20)), "truncated");
        assertBad(write("empty.draft", new byte[0]), "truncated");
        assertBad(write("trailing.draft", Arrays.copyOf(bytes, bytes.length + 8)), "trailing bytes");
        byte[] flipped = bytes.clone();
        flipped[bytes.length / 2] ^= 0x40;
        assertBad(write("corrupt.draft", flipped), "checksum");
    }

    @Test
    void noHalfWrittenFileIsLeftBehind() throws IOException {
        Path file = dir.resolve("a.draft");
        DraftCheckpoint.write(file, model());
        DraftCheckpoint.write(file, model().withVersion(43, "cooking"));
        assertEquals(43, DraftCheckpoint.read(file).version());
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList());
        }
    }

    @Test
    void shapesAndVocabulariesAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new ReducedVocabulary(new int[]{3, 2}, 10));
        assertThrows(IllegalArgumentException.class, () -> new ReducedVocabulary(new int[]{3, 10}, 10));
        assertThrows(IllegalArgumentException.class, () -> new DraftModel(0, "x", CONFIG,
                ReducedVocabulary.firstTokens(6, 50), DraftParameters.zeros(CONFIG)));
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static void assertBad(Path file, String why) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> DraftCheckpoint.read(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    private static long sizeOfWeights(Path file) {
        try {
            long header = DraftCheckpoint.MAGIC.length + 4 + 8 + 2 + "cooking".length() + 10 * 4 + VOCABULARY.size() * 4;
            return Files.size(file) - header - 4;
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static float[] logits(DraftModel m) {
        try (ParallelRunner runner = new ParallelRunner(1)) {
            LlamaStage stage = new LlamaStage(m.weights(), 0, m.config().nLayers(), runner, 4);
            ForwardBatch b = new ForwardBatch(m.config().dim(), 4);
            int[] tokens = {1, 7, 30, 2};
            for (int i = 0; i < tokens.length; i++) b.addToken(0, i, tokens[i], i == tokens.length - 1);
            StageOutput out = stage.forward(b);
            int off = out.logitsOffset(tokens.length - 1);
            return Arrays.copyOfRange(out.logits(), off, off + out.vocabSize());
        }
    }
}
