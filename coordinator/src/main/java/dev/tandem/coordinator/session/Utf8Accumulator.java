package dev.tandem.coordinator.session;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of bytes into text of whole UTF-8 characters: bytes of a character that is split across
 * tokens are held until the character is complete. Invalid bytes become U+FFFD when they can never complete.
 */
final class Utf8Accumulator {

    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** Adds bytes; returns the text of the complete characters now available (possibly empty). */
    String accept(byte[] bytes) {
        pending.writeBytes(bytes);
        byte[] buf = pending.toByteArray();
        int complete = completePrefix(buf);
        pending.reset();
        pending.write(buf, complete, buf.length - complete);
        return new String(buf, 0, complete, StandardCharsets.UTF_8);
    }

    /** Whatever is held back, decoded as it is (an incomplete character becomes U+FFFD). */
    String flush() {
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /** Length of the longest prefix that does not end inside a character that may still complete. */
    static int completePrefix(byte[] buf) {
        int n = buf.length;
        // A character is at most 4 bytes: look back at most 3 bytes for the start of an unfinished one.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int b = buf[n - back] & 0xFF;
            if ((b & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead byte
            int length = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            return length > back ? n - back : n;
        }
        return n;
    }
}
