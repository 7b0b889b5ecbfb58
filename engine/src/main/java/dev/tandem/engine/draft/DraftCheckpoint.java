package dev.tandem.engine.draft;

import dev.tandem.engine.model.ModelFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
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
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read draft checkpoint " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            byte[] magic = new byte[MAGIC.length];
            need(b, file, MAGIC.length + 4, "header");
            b.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) throw bad(file, "not a draft checkpoint (bad magic)");
            int format = b.getInt();
            if (format != FORMAT_VERSION) {
                throw bad(file, "unsupported draft checkpoint format version " + format + " (this build reads " + FORMAT_VERSION + ")");
            }
            need(b, file, 8 + 2, "header");
            long version = b.getLong();
            int clsLength = Short.toUnsignedInt(b.getShort());
            if (clsLength > MAX_CLASS_BYTES) throw bad(file, "traffic class of " + clsLength + " bytes");
            need(b, file, clsLength + CONFIG_INTS * 4 + 8, "header");
            byte[] cls = new byte[clsLength];
            b.get(cls);
            DraftConfig config;
            try {
                config = new DraftConfig(b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getInt(),
                        b.getInt(), b.getFloat(), b.getFloat());
            } catch (IllegalArgumentException e) {
                throw bad(file, "bad draft config: " + e.getMessage());
            }
            long expectedFloats = config.parameterCount();
            long remaining = (long) config.headSize() * 4 + expectedFloats * 4 + 4;
            if (b.remaining() != remaining) {
                throw bad(file, (b.remaining() < remaining ? "truncated" : "trailing bytes") + ": " + b.remaining()
                        + " bytes after the header, expected " + remaining);
            }
            int[] ids = new int[config.headSize()];
            for (int i = 0; i < ids.length; i++) ids[i] = b.getInt();
            ReducedVocabulary vocabulary;
            try {
                vocabulary = new ReducedVocabulary(ids, config.vocabSize());
            } catch (IllegalArgumentException e) {
                throw bad(file, "bad reduced vocabulary: " + e.getMessage());
            }
            DraftParameters parameters = DraftParameters.zeros(config);
            List<float[]> arrays = parameters.arrays();
            for (float[] a : arrays) {
                b.asFloatBuffer().get(a);
                b.position(b.position() + a.length * Float.BYTES);
            }
            int stored = b.getInt();
            CRC32 crc = new CRC32();
            crc.update(bytes, 0, bytes.length - 4);
            if ((int) crc.getValue() != stored) throw bad(file, "checksum mismatch (the file is corrupt)");
            return new DraftModel(version, new String(cls, StandardCharsets.UTF_8), config, vocabulary, parameters);
        } catch (java.nio.BufferUnderflowException e) {
            throw bad(file, "truncated");
        }
    }

    private static void need(ByteBuffer b, Path file, int bytes, String what) {
        if (b.remaining() < bytes) throw bad(file, "truncated in the " + what);
    }

    private static ModelFormatException bad(Path file, String why) {
        return new ModelFormatException("draft checkpoint " + file + ": " + why);
    }
}
