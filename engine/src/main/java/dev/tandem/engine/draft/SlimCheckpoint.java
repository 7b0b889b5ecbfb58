package dev.tandem.engine.draft;

import dev.tandem.engine.model.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The slim form of a {@link DraftCheckpoint}: the same bytes with the token embedding's left out. Online
 * training keeps the embedding frozen, so successive versions of a draft share it, and it is most of the file
 * (37 of 45 MB for a stories15M draft); a node that already holds the embedding (same {@link EmbeddingDigest})
 * receives only the rest. There is no second file format: the sender serves the slim form straight from the
 * checkpoint file by skipping the embedding's byte range ({@link #open}, {@link #read(FileChannel, long, ByteBuffer)}),
 * and the receiver rebuilds the draft around its own embedding array ({@link #read(ReadableByteChannel, long, String, float[])}),
 * checking the checkpoint's own CRC-32 as if the embedding's bytes had come with the rest, so a corrupt transfer
 * or an embedding that differs from the writer's is refused.
 *
 * @param embeddingOffset where the embedding starts in the checkpoint file
 * @param embeddingBytes  its length in bytes
 * @param fileBytes       the checkpoint file's size
 */
public record SlimCheckpoint(long embeddingOffset, long embeddingBytes, long fileBytes) {

    /** Magic, format version, draft version, class length. */
    private static final int PREFIX_BYTES = DraftCheckpoint.MAGIC.length + 4 + 8 + 2;
    private static final int CONFIG_BYTES = 8 * 4 + 2 * 4;

    /** Bytes of the slim form. */
    public long size() {
        return fileBytes - embeddingBytes;
    }

    /** Reads where the embedding lies from the header of the checkpoint {@code file} (only the header is read). */
    public static SlimCheckpoint open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return open(ch, file.toString());
        }
    }

    /** As {@link #open(Path)}, on a channel already open on the checkpoint ({@code source} names it in errors). */
    public static SlimCheckpoint open(FileChannel ch, String source) throws IOException {
        long size = ch.size();
        ByteBuffer prefix = readAt(ch, 0, PREFIX_BYTES, source);
        byte[] magic = new byte[DraftCheckpoint.MAGIC.length];
        prefix.get(magic);
        if (!java.util.Arrays.equals(magic, DraftCheckpoint.MAGIC)) throw DraftCheckpoint.bad(source, "not a draft checkpoint (bad magic)");
        int format = prefix.getInt();
        if (format != DraftCheckpoint.FORMAT_VERSION) {
            throw DraftCheckpoint.bad(source, "unsupported draft checkpoint format version " + format);
        }
        prefix.getLong();
        int clsLength = Short.toUnsignedInt(prefix.getShort());
        ByteBuffer config = readAt(ch, PREFIX_BYTES + clsLength, CONFIG_BYTES, source);
        int dim = config.getInt();
        config.position(5 * 4);
        int vocabSize = config.getInt();
        int headSize = config.getInt();
        if (dim <= 0 || vocabSize <= 0 || headSize <= 0) throw DraftCheckpoint.bad(source, "bad draft config in the header");
        long offset = PREFIX_BYTES + clsLength + CONFIG_BYTES + (long) headSize * Integer.BYTES;
        long embedding = (long) vocabSize * dim * Float.BYTES;
        if (offset + embedding + Integer.BYTES > size) throw DraftCheckpoint.bad(source, "truncated");
        return new SlimCheckpoint(offset, embedding, size);
    }

    /**
     * Fills {@code dst} with the slim form's bytes from {@code slimOffset} on, read from the checkpoint file
     * {@code ch}; returns the number of bytes read (fewer than asked only at the end).
     */
    public int read(FileChannel ch, long slimOffset, ByteBuffer dst) throws IOException {
        int start = dst.position();
        while (dst.hasRemaining() && slimOffset + (dst.position() - start) < size()) {
            long at = slimOffset + (dst.position() - start);
            long fileAt = at < embeddingOffset ? at : at + embeddingBytes;
            // Before the embedding, read at most up to it; after it, the rest of the file is contiguous.
            long segmentEnd = at < embeddingOffset ? embeddingOffset : fileBytes;
            int n = (int) Math.min(dst.remaining(), segmentEnd - fileAt);
            ByteBuffer part = dst.slice(dst.position(), n);
            while (part.hasRemaining()) {
                if (ch.read(part, fileAt + part.position()) < 0) throw new IOException("unexpected end of the checkpoint file");
            }
            dst.position(dst.position() + n);
        }
        return dst.position() - start;
    }

    /**
     * Reads the slim form from {@code in} ({@code size} bytes) into a draft whose embedding is {@code embedding},
     * shared, not copied; {@code source} names the transfer in errors.
     *
     * @throws ModelFormatException on any mismatch: a stream that does hold an embedding, sizes, header, an
     *                              embedding of the wrong length, a checksum that fails with this embedding
     */
    public static DraftModel read(ReadableByteChannel in, long size, String source, float[] embedding) throws IOException {
        return DraftCheckpoint.read(in, size, source, java.util.Objects.requireNonNull(embedding, "embedding"));
    }

    private static ByteBuffer readAt(FileChannel ch, long position, int bytes, String source) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) throw DraftCheckpoint.bad(source, "truncated in the header");
        }
        return b.flip();
    }
}
