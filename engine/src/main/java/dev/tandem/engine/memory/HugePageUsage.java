package dev.tandem.engine.memory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * How much of a segment the kernel really backs with transparent huge pages, from {@code /proc/self/smaps}
 * ({@code AnonHugePages} of the mappings that overlap it). madvise is only advice, so this is the way to know.
 */
public final class HugePageUsage {

    private static final Path SMAPS = Path.of("/proc/self/smaps");
    private static final String ANON_HUGE_PAGES = "AnonHugePages:";

    private HugePageUsage() {}

    /**
     * Bytes on huge pages in the mappings overlapping {@code segment} (the kernel may have merged it with a
     * neighbouring mapping of the same kind); empty when smaps cannot be read or lists no such mapping.
     */
    public static OptionalLong anonHugeBytes(MemorySegment segment) {
        List<String> lines;
        try {
            lines = Files.readAllLines(SMAPS);
        } catch (IOException | SecurityException e) {
            return OptionalLong.empty();
        }
        long from = segment.address();
        long to = from + segment.byteSize();
        boolean overlapping = false;
        boolean found = false;
        long total = 0;
        for (String line : lines) {
            int space = line.indexOf(' ');
            String first = space < 0 ? line : line.substring(0, space);
            if (first.endsWith(":")) {
                if (overlapping && first.equals(ANON_HUGE_PAGES)) {
                    total += Long.parseLong(line.substring(ANON_HUGE_PAGES.length()).trim().split("\\s+")[0]) * 1024;
                }
                continue;
            }
            // A mapping's header: "start-end perms offset dev inode [path]", addresses in hex.
            int dash = first.indexOf('-');
            if (dash < 0) continue;
            long start = Long.parseUnsignedLong(first, 0, dash, 16);
            long end = Long.parseUnsignedLong(first, dash + 1, first.length(), 16);
            overlapping = Long.compareUnsigned(start, to) < 0 && Long.compareUnsigned(from, end) < 0;
            found |= overlapping;
        }
        return found ? OptionalLong.of(total) : OptionalLong.empty();
    }
}
