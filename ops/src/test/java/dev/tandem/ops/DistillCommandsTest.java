package dev.tandem.ops;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Usage errors of `draft bootstrap` and `bench osd` are caught before any model is opened. */
class DistillCommandsTest {

    @Test
    void badBootstrapFlags(@TempDir Path dir) throws Exception {
        CliRun minutes = CliRun.of("draft", "bootstrap", "--minutes", "0");
        assertEquals(2, minutes.exitCode(), minutes.err());
        assertTrue(minutes.err().contains("--minutes"), minutes.err());
        CliRun cls = CliRun.of("draft", "bootstrap", "--class", "dinosaurs");
        assertEquals(2, cls.exitCode(), cls.err());
        assertTrue(cls.err().contains("dinosaurs"), cls.err());
        CliRun missing = CliRun.of("draft", "bootstrap", "--traffic", dir.resolve("nope.txt").toString());
        assertEquals(2, missing.exitCode(), missing.err());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "# nothing\n");
        assertEquals(1, CliRun.of("draft", "bootstrap", "--traffic", empty.toString()).exitCode());
    }

    @Test
    void badOsdFlags() {
        assertEquals(2, CliRun.of("bench", "osd", "--requests", "1").exitCode());
        CliRun family = CliRun.of("bench", "osd", "--family-b", "dinosaurs");
        assertEquals(2, family.exitCode(), family.err());
        assertTrue(family.err().contains("dinosaurs"), family.err());
        assertTrue(CliRun.of("bench", "osd", "--help").out().contains("--requests"));
    }
}
