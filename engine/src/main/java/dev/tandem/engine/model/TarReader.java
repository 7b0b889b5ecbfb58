package dev.tandem.engine.model;

import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * A minimal streaming reader of (uncompressed) tar archives: 512-byte headers, ustar name
 * prefixes, GNU long names ({@code L}) and pax {@code path}/{@code size} records; enough for npm
 * tarballs. Headers are checksum-verified so a corrupt download fails loudly.
 */
final class TarReader {

    static final int BLOCK = 512;

    private static final int NAME_OFFSET = 0, NAME_LENGTH = 100;
    private static final int SIZE_OFFSET = 124, SIZE_LENGTH = 12;
    private static final int CHECKSUM_OFFSET = 148, CHECKSUM_LENGTH = 8;
    private static final int TYPE_OFFSET = 156;
    private static final int MAGIC_OFFSET = 257;
    private static final int PREFIX_OFFSET = 345, PREFIX_LENGTH = 155;
    private static final byte[] USTAR_MAGIC = "ustar".getBytes(StandardCharsets.US_ASCII);

    static final char TYPE_FILE = '0';
    static final char TYPE_OLD_FILE = '\0';
    static final char TYPE_GNU_LONG_NAME = 'L';
    static final char TYPE_PAX_HEADER = 'x';
    /** Bigger metadata entries than this are not names: refuse instead of buffering them. */
    private static final int MAX_METADATA_BYTES = 1 << 20;

    /** One archive member. */
    record Entry(String name, long size, char type) {
        boolean isFile() { return type == TYPE_FILE || type == TYPE_OLD_FILE; }
    }

    private final InputStream in;
    private long remaining;
    private long padding;

    TarReader(InputStream in) {
        this.in = in;
    }

    /** The next entry (skipping what is left of the current one), or null at the end of the archive. */
    Entry next() throws IOException {
        String longName = null;
        Long paxSize = null;
        while (true) {
            skipRest();
            byte[] header = new byte[BLOCK];
            if (!readBlock(header)) return null;
            if (isZero(header)) return null;
            verifyChecksum(header);
            char type = (char) (header[TYPE_OFFSET] & 0xFF);
            long size = parseNumber(header, SIZE_OFFSET, SIZE_LENGTH);
            startContent(size);
            switch (type) {
                case TYPE_GNU_LONG_NAME -> longName = trimNul(new String(readMetadata(size), StandardCharsets.UTF_8));
                case TYPE_PAX_HEADER -> {
                    for (String record : new String(readMetadata(size), StandardCharsets.UTF_8).split("\n")) {
                        int space = record.indexOf(' ');
                        int eq = record.indexOf('=');
                        if (space < 0 || eq < space) continue;
                        String key = record.substring(space + 1, eq);
                        String value = record.substring(eq + 1);
                        if (key.equals("path")) longName = value;
                        if (key.equals("size")) paxSize = Long.parseLong(value.trim());
                    }
                }
                default -> {
                    String name = longName != null ? longName : headerName(header);
                    if (paxSize != null) startContent(paxSize);
                    return new Entry(name, remaining, type);
                }
            }
        }
    }

    /** The current entry's bytes; reading stops at its end. Not to be closed by callers who want more entries. */
    InputStream content() {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (remaining == 0) return -1;
                int n = in.read(b, off, (int) Math.min(len, remaining));
                if (n < 0) throw new EOFException("tar archive ends inside an entry");
                remaining -= n;
                return n;
            }

            @Override
            public void close() {}
        };
    }

    private void startContent(long size) {
        remaining = size;
        padding = (BLOCK - size % BLOCK) % BLOCK;
    }

    private void skipRest() throws IOException {
        skipFully(remaining + padding);
        remaining = 0;
        padding = 0;
    }

    private byte[] readMetadata(long size) throws IOException {
        if (size > MAX_METADATA_BYTES) throw new IOException("tar metadata entry of " + size + " bytes");
        byte[] data = content().readNBytes((int) size);
        if (data.length != size) throw new EOFException("tar archive ends inside a metadata entry");
        return data;
    }

    private boolean readBlock(byte[] block) throws IOException {
        int n = in.readNBytes(block, 0, BLOCK);
        if (n == 0) return false; // some writers omit the two zero end blocks
        if (n < BLOCK) throw new EOFException("tar archive ends inside a header");
        return true;
    }

    private void skipFully(long n) throws IOException {
        while (n > 0) {
            long skipped = in.skip(n);
            if (skipped <= 0) {
                if (in.read() < 0) throw new EOFException("tar archive ends inside an entry");
                skipped = 1;
            }
            n -= skipped;
        }
    }

    private static String headerName(byte[] header) {
        String name = field(header, NAME_OFFSET, NAME_LENGTH);
        if (startsWith(header, MAGIC_OFFSET, USTAR_MAGIC)) {
            String prefix = field(header, PREFIX_OFFSET, PREFIX_LENGTH);
            if (!prefix.isEmpty()) return prefix + "/" + name;
        }
        return name;
    }

    private static void verifyChecksum(byte[] header) throws IOException {
        long stored = parseNumber(header, CHECKSUM_OFFSET, CHECKSUM_LENGTH);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            boolean inChecksumField = i >= CHECKSUM_OFFSET && i < CHECKSUM_OFFSET + CHECKSUM_LENGTH;
            sum += inChecksumField ? ' ' : header[i] & 0xFF;
        }
        if (sum != stored) throw new IOException("corrupt tar header (checksum " + stored + ", computed " + sum + ")");
    }

    /** Octal, NUL/space padded; or GNU base-256 when the high bit of the first byte is set. */
    static long parseNumber(byte[] header, int offset, int length) throws IOException {
        if ((header[offset] & 0x80) != 0) {
            long value = header[offset] & 0x7F;
            for (int i = 1; i < length; i++) value = (value << 8) | (header[offset + i] & 0xFF);
            return value;
        }
        String text = field(header, offset, length).trim();
        if (text.isEmpty()) return 0;
        try {
            return Long.parseLong(text, 8);
        } catch (NumberFormatException e) {
            throw new IOException("bad number in tar header: '" + text + "'");
        }
    }

    private static String field(byte[] header, int offset, int length) {
        int end = offset;
        while (end < offset + length && header[end] != 0) end++;
        return new String(header, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static String trimNul(String s) {
        int nul = s.indexOf('\0');
        return nul >= 0 ? s.substring(0, nul) : s;
    }

    private static boolean startsWith(byte[] header, int offset, byte[] magic) {
        for (int i = 0; i < magic.length; i++) if (header[offset + i] != magic[i]) return false;
        return true;
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) if (b != 0) return false;
        return true;
    }
}
