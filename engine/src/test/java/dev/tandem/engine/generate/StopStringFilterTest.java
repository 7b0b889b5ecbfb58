package dev.tandem.engine.generate;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopStringFilterTest {

    private static String feed(StopStringFilter filter, String... pieces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String p : pieces) {
            out.writeBytes(filter.accept(p.getBytes(StandardCharsets.UTF_8)));
            if (filter.stopped()) return out.toString(StandardCharsets.UTF_8);
        }
        out.writeBytes(filter.flush());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void withoutStopStringsEverythingPasses() {
        StopStringFilter f = new StopStringFilter(List.of());
        assertEquals("a b c", feed(f, "a", " b", " c"));
        assertFalse(f.stopped());
    }

    @Test
    void stopStringSplitAcrossPiecesIsNeverEmitted() {
        StopStringFilter f = new StopStringFilter(List.of("The end"));
        assertEquals("Happy. ", feed(f, "Happy.", " The", " e", "nd", " more"));
        assertTrue(f.stopped());
    }

    @Test
    void heldBackPrefixIsReleasedWhenItDiverges() {
        StopStringFilter f = new StopStringFilter(List.of("\n\n"));
        StopStringFilter g = new StopStringFilter(List.of("\n\n"));
        assertEquals("line\nnext", feed(f, "line", "\n", "next"));
        assertFalse(f.stopped());
        assertEquals("end\n", feed(g, "end", "\n"), "a held-back prefix is flushed at the end");
    }

    @Test
    void earliestOfSeveralStopStringsWins() {
        StopStringFilter f = new StopStringFilter(List.of("cat", "dog"));
        assertEquals("a ", feed(f, "a dog and a cat"));
    }
}
