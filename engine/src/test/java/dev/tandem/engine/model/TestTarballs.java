package dev.tandem.engine.model;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small tar archives for tests: plain ustar names, ustar prefixes, GNU long names, pax paths. */
final class TestTarballs {

    enum NameStyle { PLAIN, USTAR_PREFIX, GNU_LONG_NAME, PAX_PATH }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    TestTarballs add(String name, byte[] content, NameStyle style) {
        switch (style) {
            case PLAIN -> header(name, "", content.length, '0');
            case USTAR_PREFIX -> {
                int slash = name.lastIndexOf('/');
                header(name.substring(slash + 1), name.substring(0, slash), content.length, '0');
            }
            case GNU_LONG_NAME -> {
                byte[] longName = (name + "\0").getBytes(StandardCharsets.UTF_8);
                header("././@LongLink", "", longName.length, 'L');
                body(longName);
                header("truncated-name", "", content.length, '0');
            }
            case PAX_PATH -> {
                // a pax record is "<length> path=<name>\n" where the length counts its own digits
                String rest = " path=" + name + "\n";
                int length = rest.length();
                while (String.valueOf(length).length() + rest.length() != length) {
                    length = String.valueOf(length).length() + rest.length();
                }
                byte[] pax = (length + rest).getBytes(StandardCharsets.UTF_8);
                header("PaxHeader/x", "", pax.length, 'x');
                body(pax);
                header("short", "", content.length, '0');
            }
        }
        body(content);
        return this;
    }

    TestTarballs directory(String name) {
        header(name, "", 0, '5');
        return this;
    }

    byte[] tar() {
        byte[] end = new byte[2 * 512];
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(out.toByteArray());
        all.writeBytes(end);
        return all.toByteArray();
    }

    void writeTgz(Path file) throws IOException {
        try (OutputStream gz = new GZIPOutputStream(Files.newOutputStream(file))) {
            gz.write(tar());
        }
    }

    private void body(byte[] content) {
        out.writeBytes(content);
        int pad = (512 - content.length % 512) % 512;
        out.writeBytes(new byte[pad]);
    }

    private void header(String name, String prefix, long size, char type) {
        byte[] h = new byte[512];
        put(h, 0, name, 100);
        put(h, 100, "0000644", 8);
        put(h, 108, "0000000", 8);
        put(h, 116, "0000000", 8);
        put(h, 124, String.format("%011o", size), 12);
        put(h, 136, String.format("%011o", 0), 12);
        h[156] = (byte) type;
        put(h, 257, "ustar", 6);
        put(h, 263, "00", 2);
        put(h, 345, prefix, 155);
        for (int i = 148; i < 156; i++) h[i] = ' ';
        long sum = 0;
        for (byte b : h) sum += b & 0xFF;
        put(h, 148, String.format("%06o", sum), 7);
        h[154] = 0;
        h[155] = ' ';
        out.writeBytes(h);
    }

    private static void put(byte[] h, int offset, String value, int max) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > max) throw new IllegalArgumentException(value + " too long for its tar field");
        System.arraycopy(bytes, 0, h, offset, bytes.length);
    }
}
