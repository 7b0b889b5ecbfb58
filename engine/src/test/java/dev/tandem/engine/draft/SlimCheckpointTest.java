package dev.tandem.engine.draft;

import dev.tandem.engine.model.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The checkpoint without its embedding: served from the file by skipping a range, rebuilt around the receiver's array. */
class SlimCheckpointTest {

    private static final DraftConfig CONFIG = new DraftConfig(16, 40, 2, 4, 2, 50, 7, 32, 1e-5f, 10000f);
    private static final ReducedVocabulary VOCABULARY = new ReducedVocabulary(new int[]{0, 1, 2, 9, 17, 30, 49}, 50);

    @TempDir
    Path dir;

    private static DraftModel model(long seed) {
        return DraftModel.random(CONFIG, VOCABULARY, seed).withVersion(7, "cooking");
    }

    @Test
    void theSlimFormIsTheFileWithoutTheEmbeddingAndRebuildsTheDraftAroundTheReceiversArray() throws IOException {
        DraftModel sent = model(3);
        Path file = dir.resolve("v7.draft");
        DraftCheckpoint.write(file, sent);
        SlimCheckpoint slim = SlimCheckpoint.open(file);
        assertEquals(CONFIG.vocabSize() * CONFIG.dim() * 4L, slim.embeddingBytes());
        assertEquals(Files.size(file) - slim.embeddingBytes(), slim.size());

        // Read in uneven pieces that straddle the embedding's edges.
        byte[] bytes = slimBytes(file, slim, 1000);
        byte[] whole = Files.readAllBytes(file);
        byte[] expected = new byte[(int) slim.size()];
        System.arraycopy(whole, 0, expected, 0, (int) slim.embeddingOffset());
        System.arraycopy(whole, (int) (slim.embeddingOffset() + slim.embeddingBytes()), expected, (int) slim.embeddingOffset(),
                (int) (whole.length - slim.embeddingOffset() - slim.embeddingBytes()));
        assertArrayEquals(expected, bytes);

        float[] own = sent.parameters().embedding().clone(); // the receiver's own copy, equal bit for bit
        DraftModel received = read(bytes, own);
        assertSame(own, received.parameters().embedding(), "shared, not copied");
        assertEquals(7, received.version());
        assertEquals("cooking", received.trafficClass());
        assertEquals(VOCABULARY, received.vocabulary());
        List<float[]> a = sent.parameters().arrays();
        List<float[]> b = received.parameters().arrays();
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "parameter array " + i);
    }

    @Test
    void aCorruptTransferAWrongEmbeddingOrTheWrongFormAreRefused() throws IOException {
        DraftModel sent = model(3);
        Path file = dir.resolve("v7.draft");
        DraftCheckpoint.write(file, sent);
        SlimCheckpoint slim = SlimCheckpoint.open(file);
        byte[] bytes = slimBytes(file, slim, 4096);
        float[] own = sent.parameters().embedding().clone();

        byte[] flipped = bytes.clone();
        flipped[flipped.length - 40] ^= 0x10;
        assertRefused(() -> read(flipped, own), "checksum mismatch");

        float[] other = own.clone();
        other[123] = Math.nextUp(other[123]); // one ulp away
        assertRefused(() -> read(bytes, other), "checksum mismatch");

        assertRefused(() -> read(bytes, new float[own.length - CONFIG.dim()]), "the embedding supplied has");
        assertRefused(() -> read(Arrays.copyOf(bytes, bytes.length - 1), own), "truncated");
        assertRefused(() -> read(Files.readAllBytes(file), own), "the embedding is included");
        assertRefused(() -> DraftCheckpoint.read(Channels.newChannel(new ByteArrayInputStream(bytes)), bytes.length, "x"),
                "the embedding is missing");
    }

    @Test
    void digestsFollowTheContentAndAreCachedPerArray() {
        float[] a = model(3).parameters().embedding();
        float[] b = a.clone();
        assertEquals(EmbeddingDigest.of(a), EmbeddingDigest.of(b));
        assertEquals(64, EmbeddingDigest.of(a).length());
        assertSame(EmbeddingDigest.of(a), EmbeddingDigest.of(a));
        assertNotEquals(EmbeddingDigest.of(a), EmbeddingDigest.of(model(4).parameters().embedding()));
        b[0] = -b[0];
        assertNotEquals(EmbeddingDigest.of(a), EmbeddingDigest.compute(b));
    }

    private static byte[] slimBytes(Path file, SlimCheckpoint slim, int piece) throws IOException {
        byte[] out = new byte[(int) slim.size()];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int at = 0; at < out.length; at += piece) {
                ByteBuffer b = ByteBuffer.allocate(Math.min(piece, out.length - at));
                assertEquals(b.capacity(), slim.read(ch, at, b));
                System.arraycopy(b.array(), 0, out, at, b.capacity());
            }
            assertEquals(0, slim.read(ch, out.length, ByteBuffer.allocate(8)), "nothing past the end");
        }
        return out;
    }

    private static DraftModel read(byte[] bytes, float[] embedding) throws IOException {
        return SlimCheckpoint.read(Channels.newChannel(new ByteArrayInputStream(bytes)), bytes.length, "test transfer", embedding);
    }

    private interface Read {
        void run() throws IOException;
    }

    private static void assertRefused(Read read, String why) {
        ModelFormatException e = assertThrows(ModelFormatException.class, read::run);
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }
}
