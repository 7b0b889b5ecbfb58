package dev.tandem.engine.tokenizer;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class BpeTokenizerTest {

    static BpeTokenizer stories;

    @BeforeAll
    static void load() {
        stories = BpeTokenizer.fromLlama2c(ModelStore.ensureDefault(ProgressListener.NONE).resolve("tokenizer.bin"),
                Llama2cVocabularyReaderTest.STORIES_VOCAB);
    }

    @Test
    void encodesLikeRunC() {
        assertArrayEquals(new int[] {1, 9038, 2501, 263, 931}, stories.encode("Once upon a time", true, false));
        assertArrayEquals(new int[] {9038, 2501, 263, 931, 2}, stories.encode("Once upon a time", false, true));
        assertEquals(1, stories.bosId());
        assertEquals(2, stories.eosId());
        assertEquals(32000, stories.vocabSize());
    }

    @Test
    void emptyTextIsOnlyTheMarkers() {
        assertArrayEquals(new int[] {1}, stories.encode("", true, false));
        assertArrayEquals(new int[] {1, 2}, stories.encode("", true, true));
        assertArrayEquals(new int[0], stories.encode("", false, false));
        assertEquals("", stories.decode(new int[] {1}));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "Once upon a time, there was a little girl named Lily.",
            "Hello, world! (1 + 2) * 3 = 9; \"quotes\" & 'apostrophes' ~ `ticks` {braces} [x] #@$%^|\\/",
            "line one\nline two\n\n\ttabbed\r\nwindows",
            "  leading and trailing spaces  ",
            " ",
            "a",
            "\n",
            "Café crème brûlée, naïve façade, Ångström, Żółć",
            "日本語のテキストと中文文本",
            "emoji 🙂🚀👩‍👩‍👧 and 𝕏 outside the BMP",
            "Ω≈ç√∫˜µ≤≥÷ «guillemets» — dashes – …",
            "\u0000 control \u0001\u007f chars",
    })
    void roundTrips(String text) {
        for (boolean bos : new boolean[] {true, false}) {
            int[] ids = stories.encode(text, bos, false);
            assertEquals(text, stories.decode(ids), () -> Arrays.toString(ids));
        }
    }

    @Test
    void unknownCodepointsFallBackToByteTokens() {
        // U+1F642 is not a piece: its four UTF-8 bytes become <0xF0> <0x9F> <0x99> <0x82> (id = byte + 3).
        int[] ids = stories.encode("🙂", false, false);
        byte[] utf8 = "🙂".getBytes(StandardCharsets.UTF_8);
        assertEquals(1 + utf8.length, ids.length, Arrays.toString(ids));
        for (int i = 0; i < utf8.length; i++) assertEquals((utf8[i] & 0xFF) + 3, ids[i + 1]);
        assertArrayEquals(new byte[] {utf8[0]}, stories.decodeBytes(ids[0], ids[1]));
    }

    @Test
    void decodeBytesDropsTheDummySpaceOnlyAfterBos() {
        assertArrayEquals("Once".getBytes(StandardCharsets.UTF_8), stories.decodeBytes(1, 9038));
        assertArrayEquals(" Once".getBytes(StandardCharsets.UTF_8), stories.decodeBytes(931, 9038));
        assertArrayEquals(new byte[] {'\n'}, stories.decodeBytes(1, 3 + '\n'));
        assertArrayEquals(new byte[] {' '}, stories.decodeBytes(1, 3 + ' '));
        assertArrayEquals(new byte[0], stories.decodeBytes(931, 1));
        assertArrayEquals(new byte[0], stories.decodeBytes(931, 2));
        assertEquals(" upon a time", stories.decode(9038, new int[] {2501, 263, 931}));
        assertThrows(IllegalArgumentException.class, () -> stories.decodeBytes(1, 32000));
        assertThrows(IllegalArgumentException.class, () -> stories.decodeBytes(1, -1));
    }

    @Test
    void decodeBytesReturnsAFreshArray() {
        byte[] first = stories.decodeBytes(931, 9038);
        first[0] = 'X';
        assertArrayEquals(" Once".getBytes(StandardCharsets.UTF_8), stories.decodeBytes(931, 9038));
    }

    @Test
    void specialSpellingsInTextAreNotSpecialTokens() {
        int[] ids = stories.encode("<s></s><unk><0x41>", false, false);
        for (int id : ids) {
            assertTrue(id > 258, () -> "special or byte token in " + Arrays.toString(ids));
        }
        assertEquals("<s></s><unk><0x41>", stories.decode(ids));
    }

    @Test
    void mergesHighestScoreFirstAndLeftmostOnTies() {
        BpeTokenizer t = tiny(new String[] {" ", "a", "b", "c", "ab", "bc", " a"}, new float[] {0, 0, 0, 0, -1, -1, -5});
        int ab = id("ab"), bc = id("bc"), c = id("c"), space = id(" ");
        // "abc": ab and bc tie; the leftmost (ab) wins, leaving ab c.  " a" scores lower than both.
        assertArrayEquals(new int[] {space, ab, c}, t.encode("abc", false, false));
        BpeTokenizer t2 = tiny(new String[] {" ", "a", "b", "c", "ab", "bc", " a"}, new float[] {0, 0, 0, 0, -2, -1, -5});
        // now bc scores higher: " a" then waits until ab is no longer possible
        assertArrayEquals(new int[] {id(" a"), bc}, t2.encode("abc", false, false));
        assertEquals("abc", t2.decode(t2.encode("abc", true, false)));
    }

    @Test
    void missingByteTokensFallBackToUnknown() {
        var pieces = List.of("<unk>", "<s>", "</s>", " ", "a");
        var v = new Vocabulary(pieces, new float[5], new int[] {2, 3, 3, 1, 1}, 1, 2, 0);
        var t = new BpeTokenizer(v);
        assertArrayEquals(new int[] {1, 3, 4, 0, 0, 4}, t.encode("aéa", true, false));
    }

    @Test
    void priorityQueueMergeEqualsRunCsGreedyLoop() {
        Random random = new Random(42);
        String alphabet = "abcdefghijklmnopqrstuvwxyz  ,.!?\n'éü日本🙂";
        int[] codepoints = alphabet.codePoints().toArray();
        for (int trial = 0; trial < 200; trial++) {
            var sb = new StringBuilder();
            int len = random.nextInt(120);
            for (int i = 0; i < len; i++) sb.appendCodePoint(codepoints[random.nextInt(codepoints.length)]);
            String text = sb.toString();
            assertArrayEquals(RunCGreedyEncoder.encode(stories, text), stories.encode(text, false, false), text);
        }
        String story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. "
                .repeat(20);
        assertArrayEquals(RunCGreedyEncoder.encode(stories, story), stories.encode(story, false, false));
    }

    @Test
    void longPromptsRoundTrip() {
        // 90k characters: run.c's quadratic merge loop would crawl here, the priority-queue merge does not
        String text = "The quick brown fox jumps over the lazy dog. ".repeat(2000);
        int[] ids = stories.encode(text, true, false);
        assertEquals(text, stories.decode(ids));
    }

    private static final List<String> TINY_SPECIALS = List.of("<unk>", "<s>", "</s>");
    private static List<String> tinyPieces;

    private static BpeTokenizer tiny(String[] normal, float[] scores) {
        List<String> pieces = new ArrayList<>(TINY_SPECIALS);
        for (int b = 0; b < 256; b++) pieces.add(Llama2cVocabularyReader.bytePiece(b));
        pieces.addAll(List.of(normal));
        int n = pieces.size();
        float[] s = new float[n];
        System.arraycopy(scores, 0, s, n - normal.length, normal.length);
        int[] types = new int[n];
        Arrays.fill(types, Vocabulary.TYPE_NORMAL);
        types[0] = Vocabulary.TYPE_UNKNOWN;
        types[1] = types[2] = Vocabulary.TYPE_CONTROL;
        Arrays.fill(types, 3, 259, Vocabulary.TYPE_BYTE);
        tinyPieces = pieces;
        return new BpeTokenizer(new Vocabulary(pieces, s, types, 1, 2, 0));
    }

    private static int id(String piece) { return tinyPieces.indexOf(piece); }
}
