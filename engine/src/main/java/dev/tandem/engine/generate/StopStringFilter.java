package dev.tandem.engine.generate;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Streams output bytes while watching for stop strings: bytes that could still be the start of a stop
 * string are held back until they can't, so a stop string is never emitted, not even in part.
 */
public final class StopStringFilter {

    private final byte[][] stops;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private boolean stopped;

    public StopStringFilter(List<String> stopStrings) {
        this.stops = stopStrings.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    }

    public boolean stopped() { return stopped; }

    /** Adds bytes; returns the bytes that are now safe to emit (possibly empty). */
    public byte[] accept(byte[] bytes) {
        if (stops.length == 0) return bytes;
        pending.writeBytes(bytes);
        byte[] buf = pending.toByteArray();
        for (int start = 0; start < buf.length; start++) {
            for (byte[] stop : stops) {
                if (matchesAt(buf, start, stop) == stop.length) {
                    stopped = true;
                    pending.reset();
                    return Arrays.copyOf(buf, start);
                }
            }
        }
        int keep = 0; // longest suffix of buf that is a proper prefix of some stop string
        for (byte[] stop : stops) {
            for (int len = Math.min(stop.length - 1, buf.length); len > keep; len--) {
                if (matchesAt(buf, buf.length - len, stop) == len) {
                    keep = len;
                    break;
                }
            }
        }
        pending.reset();
        pending.write(buf, buf.length - keep, keep);
        return Arrays.copyOf(buf, buf.length - keep);
    }

    /** Bytes still held back when the generation ends for another reason. */
    public byte[] flush() {
        byte[] rest = pending.toByteArray();
        pending.reset();
        return rest;
    }

    private static int matchesAt(byte[] buf, int start, byte[] stop) {
        int n = 0;
        while (n < stop.length && start + n < buf.length && buf[start + n] == stop[n]) n++;
        return n;
    }
}
