package dev.tandem.engine.draft;

import dev.tandem.engine.model.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * The draft checkpoint file: one {@link DraftModel}, little-endian.
 * <pre>
 *   magic          8 bytes  "TNDMDRFT"
 *   format version u32      {@link #FORMAT_VERSION}
 *   draft version  i64      the model's version number (drafts are republished as they improve)
 *   traffic class  u16 length + UTF-8 bytes
 *   config         i32 dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, headSize, seqLen; f32 normEps, ropeTheta
 *   vocabulary     i32[headSize]  sorted distinct target token ids of the head's rows
 *   weights        f32 arrays in {@link DraftParameters#arrays()} order
 *   checksum       u32      CRC-32 of every byte before it
 * </pre>
 * Reading checks everything (magic, version, sizes, the checksum) and names the file in any error.
 * Reading streams through one chunk-sized buffer. {@link SlimCheckpoint} is the same bytes without the
 * embedding's, for nodes that already hold it.
 * Writing goes to a temporary file that is then moved into place, so readers never see half a file.
 */
public final class DraftCheckpoint {

    public static final byte[] MAGIC = "TNDMDRFT".getBytes(StandardCharsets.US_ASCII);
    public static final int FORMAT_VERSION = 1;
    /** Usual file extension. */
    public static final String EXTENSION = ".draft";
    private static final int MAX_CLASS_BYTES = 1024;
    private static final int CONFIG_INTS = 8;
    private static final int CHUNK_FLOATS = 1 << 16;

    private DraftCheckpoint() {}

    /** Where the command line looks for a draft when none is named: {@code $TANDEM_HOME/drafts/default.draft}. */
    public static Path defaultPath() {
        return dev.tandem.engine.model.TandemHome.root().resolve("drafts").resolve("default" + EXTENSION);
    }

    public static void write(Path file, DraftModel model) {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            try {
                writeTo(tmp, model);
                try {
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write draft checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    private static void writeTo(Path file, DraftModel model) throws IOException {
        DraftConfig c = model.config();
        byte[] cls = model.trafficClass().getBytes(StandardCharsets.UTF_8);
        if (cls.length > MAX_CLASS_BYTES) throw new IllegalArgumentException("traffic class name too long");
        ByteBuffer header = ByteBuffer.allocate(MAGIC.length + 4 + 8 + 2 + cls.length + CONFIG_INTS * 4 + 8 + c.headSize() * 4)
                .order(ByteOrder.LITTLE_ENDIAN);
        header.put(MAGIC).putInt(FORMAT_VERSION).putLong(model.version()).putShort((short) cls.length).put(cls);
        header.putInt(c.dim()).putInt(c.hiddenDim()).putInt(c.nLayers()).putInt(c.nHeads()).putInt(c.nKvHeads())
                .putInt(c.vocabSize()).putInt(c.headSize()).putInt(c.seqLen()).putFloat(c.normEps()).putFloat(c.ropeTheta());
        for (int i = 0; i < c.headSize(); i++) header.putInt(model.vocabulary().tokenAt(i));
        header.flip();
        CRC32 crc = new CRC32();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            crc.update(header.duplicate());
            writeFully(ch, header);
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK_FLOATS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (float[] a : model.parameters().arrays()) {
                for (int from = 0; from < a.length; from += CHUNK_FLOATS) {
                    int n = Math.min(CHUNK_FLOATS, a.length - from);
                    chunk.clear();
                    chunk.asFloatBuffer().put(a, from, n);
                    chunk.limit(n * Float.BYTES);
                    crc.update(chunk.duplicate());
                    writeFully(ch, chunk);
                }
            }
            ByteBuffer tail = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).flip();
            writeFully(ch, tail);
            ch.force(true);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    public static DraftModel read(Path file) {
        // Streamed through one chunk-sized buffer: reading the whole file into an array first would cost a
        // second draft-sized allocation (45 MB for a stories15M draft) on every load and every adoption.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(ch, ch.size(), file.toString(), null);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read draft checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a whole checkpoint (this file's format) from {@code in}, which holds exactly {@code size} bytes;
     * {@code source} names it in errors.
     */
    public static DraftModel read(ReadableByteChannel in, long size, String source) throws IOException {
        return read(in, size, source, null);
    }

    /**
     * The reader of both forms. With {@code embedding} null, {@code in} is a whole checkpoint. Otherwise it is the
     * slim form ({@link SlimCheckpoint}: the same bytes without the embedding's) and the model is built around
     * {@code embedding}, shared, not copied; the checksum is then computed as if the embedding's bytes were in
     * the stream, so the model is refused unless it is bit for bit the one that was written.
     */
    static DraftModel read(ReadableByteChannel in, long size, String source, float[] embedding) throws IOException {
        CRC32 crc = new CRC32();
        ByteBuffer prefix = fill(in, ByteBuffer.allocate(MAGIC.length + 4 + 8 + 2), source, "header", crc);
        byte[] magic = new byte[MAGIC.length];
        prefix.get(magic);
        if (!java.util.Arrays.equals(magic, MAGIC)) throw bad(source, "not a draft checkpoint (bad magic)");
        int format = prefix.getInt();
        if (format != FORMAT_VERSION) {
            throw bad(source, "unsupported draft checkpoint format version " + format + " (this build reads " + FORMAT_VERSION + ")");
        }
        long version = prefix.getLong();
        int clsLength = Short.toUnsignedInt(prefix.getShort());
        if (clsLength > MAX_CLASS_BYTES) throw bad(source, "traffic class of " + clsLength + " bytes");
        ByteBuffer rest = fill(in, ByteBuffer.allocate(clsLength + CONFIG_INTS * 4 + 8), source, "header", crc);
        byte[] cls = new byte[clsLength];
        rest.get(cls);
        DraftConfig config;
        try {
            config = new DraftConfig(rest.getInt(), rest.getInt(), rest.getInt(), rest.getInt(), rest.getInt(), rest.getInt(),
                    rest.getInt(), rest.getInt(), rest.getFloat(), rest.getFloat());
        } catch (IllegalArgumentException e) {
            throw bad(source, "bad draft config: " + e.getMessage());
        }
        long embeddingBytes = (long) config.vocabSize() * config.dim() * Float.BYTES;
        if (embedding != null && embedding.length * (long) Float.BYTES != embeddingBytes) {
            throw bad(source, "the embedding supplied has " + embedding.length + " floats, the config needs vocabSize x dim = "
                    + embeddingBytes / Float.BYTES);
        }
        long left = size - (prefix.capacity() + rest.capacity());
        long whole = (long) config.headSize() * 4 + config.parameterCount() * 4 + 4;
        long expected = embedding == null ? whole : whole - embeddingBytes;
        if (left != expected) {
            String form = embedding == null ? "a whole checkpoint" : "the slim form (no embedding)";
            if (embedding == null && left == whole - embeddingBytes) throw bad(source, "the embedding is missing: the slim form, not " + form);
            if (embedding != null && left == whole) throw bad(source, "the embedding is included: a whole checkpoint, not " + form);
            throw bad(source, (left < expected ? "truncated" : "trailing bytes") + ": " + left + " bytes after the header, expected "
                    + expected + " for " + form);
        }
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_FLOATS * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int[] ids = new int[config.headSize()];
        for (int from = 0; from < ids.length; from += CHUNK_FLOATS) {
            int n = Math.min(CHUNK_FLOATS, ids.length - from);
            chunk.clear().limit(n * Integer.BYTES);
            fill(in, chunk, source, "vocabulary", crc).asIntBuffer().get(ids, from, n);
        }
        ReducedVocabulary vocabulary;
        try {
            vocabulary = new ReducedVocabulary(ids, config.vocabSize());
        } catch (IllegalArgumentException e) {
            throw bad(source, "bad reduced vocabulary: " + e.getMessage());
        }
        DraftParameters parameters = embedding == null ? DraftParameters.zeros(config) : DraftParameters.zeros(config, embedding);
        for (float[] a : parameters.arrays()) {
            for (int from = 0; from < a.length; from += CHUNK_FLOATS) {
                int n = Math.min(CHUNK_FLOATS, a.length - from);
                chunk.clear().limit(n * Float.BYTES);
                if (a == embedding) { // not in the stream: its bytes enter the checksum from our own copy
                    chunk.asFloatBuffer().put(a, from, n);
                    crc.update(chunk.duplicate());
                } else {
                    fill(in, chunk, source, "weights", crc).asFloatBuffer().get(a, from, n);
                }
            }
        }
        int stored = fill(in, ByteBuffer.allocate(4), source, "checksum", null).getInt();
        if ((int) crc.getValue() != stored) {
            throw bad(source, embedding == null ? "checksum mismatch (the file is corrupt)"
                    : "checksum mismatch (the transfer is corrupt, or the embedding supplied is not the one it was written with)");
        }
        return new DraftModel(version, new String(cls, StandardCharsets.UTF_8), config, vocabulary, parameters);
    }

    /** Reads {@code b}'s remaining bytes from {@code in} (adding them to {@code crc} unless null); returned flipped, little-endian. */
    private static ByteBuffer fill(ReadableByteChannel in, ByteBuffer b, String source, String what, CRC32 crc) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) throw bad(source, "truncated in the " + what);
        }
        b.flip();
        if (crc != null) crc.update(b.duplicate());
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    static ModelFormatException bad(String source, String why) {
        return new ModelFormatException("draft checkpoint " + source + ": " + why);
    }
}
