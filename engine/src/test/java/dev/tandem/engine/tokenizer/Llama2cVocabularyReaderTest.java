package dev.tandem.engine.tokenizer;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.model.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class Llama2cVocabularyReaderTest {

    static final int STORIES_VOCAB = 32000;

    @TempDir
    Path dir;

    /** Writes a llama2.c tokenizer.bin with the given raw pieces and scores. */
    static byte[] tokenizerBin(List<byte[]> pieces, float[] scores) {
        var out = new ByteArrayOutputStream();
        int max = pieces.stream().mapToInt(p -> p.length).max().orElse(1);
        out.writeBytes(le(4).putInt(max).array());
        for (int i = 0; i < pieces.size(); i++) {
            out.writeBytes(le(8).putFloat(scores[i]).putInt(pieces.get(i).length).array());
            out.writeBytes(pieces.get(i));
        }
        return out.toByteArray();
    }

    private static ByteBuffer le(int n) { return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN); }

    /** The llama2.c layout: unk, BOS, EOS, 256 bytes (spelled raw, as the emscripten export does), then {@code extra}. */
    static List<byte[]> llamaLayout(String... extra) {
        List<byte[]> pieces = new ArrayList<>();
        pieces.add("<unk>".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n<s>\n".getBytes(StandardCharsets.UTF_8));
        pieces.add("\n</s>\n".getBytes(StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) pieces.add(String.valueOf((char) b).getBytes(StandardCharsets.UTF_8));
        for (String e : extra) pieces.add(e.getBytes(StandardCharsets.UTF_8));
        return pieces;
    }

    @Test
    void readsTypesAndNormalizesSpecialPieces() throws Exception {
        List<byte[]> pieces = llamaLayout(" ", "a", " a");
        float[] scores = new float[pieces.size()];
        scores[pieces.size() - 1] = -3f;
        Path file = dir.resolve("tokenizer.bin");
        Files.write(file, tokenizerBin(pieces, scores));

        Vocabulary v = Llama2cVocabularyReader.read(file, pieces.size());

        assertEquals(pieces.size(), v.size());
        assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), v.pieces().subList(0, 4));
        assertEquals("<0x0A>", v.pieces().get(3 + 10));
        assertEquals("<0xFF>", v.pieces().get(258));
        assertEquals(List.of(" ", "a", " a"), v.pieces().subList(259, 262));
        assertEquals(Vocabulary.TYPE_UNKNOWN, v.tokenTypes()[0]);
        assertEquals(Vocabulary.TYPE_CONTROL, v.tokenTypes()[1]);
        assertEquals(Vocabulary.TYPE_CONTROL, v.tokenTypes()[2]);
        assertEquals(Vocabulary.TYPE_BYTE, v.tokenTypes()[3]);
        assertEquals(Vocabulary.TYPE_BYTE, v.tokenTypes()[258]);
        assertEquals(Vocabulary.TYPE_NORMAL, v.tokenTypes()[259]);
        assertEquals(-3f, v.scores()[261]);
        assertEquals(1, v.bosId());
        assertEquals(2, v.eosId());
        assertEquals(0, v.unkId());
    }

    @Test
    void readsOnlyTheRequestedNumberOfTokens() throws Exception {
        List<byte[]> pieces = llamaLayout("a", "b");
        Path file = dir.resolve("tokenizer.bin");
        Files.write(file, tokenizerBin(pieces, new float[pieces.size()]));
        assertEquals(260, Llama2cVocabularyReader.read(file, 260).size());
    }

    @Test
    void missingFileNamesTheFile() {
        Path file = dir.resolve("nope.bin");
        var e = assertThrows(ModelFormatException.class, () -> Llama2cVocabularyReader.read(file, 300));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void truncatedFileNamesTheFile() throws Exception {
        List<byte[]> pieces = llamaLayout("hello");
        byte[] full = tokenizerBin(pieces, new float[pieces.size()]);
        Path file = dir.resolve("tokenizer.bin");
        Files.write(file, Arrays.copyOf(full, full.length - 2));
        var e = assertThrows(ModelFormatException.class, () -> Llama2cVocabularyReader.read(file, pieces.size()));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("truncated"), e.getMessage());

        Files.write(file, tokenizerBin(pieces, new float[pieces.size()]));
        var tooMany = assertThrows(ModelFormatException.class,
                () -> Llama2cVocabularyReader.read(file, pieces.size() + 1));
        assertTrue(tooMany.getMessage().contains("token " + pieces.size()), tooMany.getMessage());

        Files.write(file, new byte[2]);
        assertThrows(ModelFormatException.class, () -> Llama2cVocabularyReader.read(file, pieces.size()));
    }

    @Test
    void rejectsVocabularyWithoutByteTokensAndInvalidLengths() throws Exception {
        Path file = dir.resolve("tokenizer.bin");
        List<byte[]> pieces = llamaLayout("x");
        byte[] bytes = tokenizerBin(pieces, new float[pieces.size()]);
        assertThrows(ModelFormatException.class, () -> Llama2cVocabularyReader.read(file, 10));
        // token 0's length field set to -1
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -1);
        Files.write(file, bytes);
        var e = assertThrows(ModelFormatException.class, () -> Llama2cVocabularyReader.read(file, pieces.size()));
        assertTrue(e.getMessage().contains("token 0"), e.getMessage());
    }

    @Test
    void readsTheInstalledStoriesTokenizer() {
        Path file = ModelStore.ensureDefault(ProgressListener.NONE).resolve("tokenizer.bin");
        Vocabulary v = Llama2cVocabularyReader.read(file, STORIES_VOCAB);
        assertEquals(STORIES_VOCAB, v.size());
        assertEquals(" Once", v.pieces().get(9038));
        assertEquals("<0x20>", v.pieces().get(3 + ' '));
        assertEquals(" ", v.pieces().get(29871));
    }
}
