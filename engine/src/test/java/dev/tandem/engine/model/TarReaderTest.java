package dev.tandem.engine.model;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TarReaderTest {

    private static final String DEEP = "package/" + "very-long-directory-name/".repeat(4) + "file.data";

    @Test
    void readsNamesInEveryStyleAndContents() throws IOException {
        byte[] big = new byte[1500];
        for (int i = 0; i < big.length; i++) big[i] = (byte) i;
        byte[] tar = new TestTarballs()
                .directory("package/")
                .add("package/a.txt", "hello".getBytes(StandardCharsets.UTF_8), TestTarballs.NameStyle.PLAIN)
                .add(DEEP, big, TestTarballs.NameStyle.USTAR_PREFIX)
                .add(DEEP + ".gnu", new byte[512], TestTarballs.NameStyle.GNU_LONG_NAME)
                .add(DEEP + ".pax", new byte[] {7}, TestTarballs.NameStyle.PAX_PATH)
                .tar();
        TarReader reader = new TarReader(new ByteArrayInputStream(tar));
        List<String> names = new ArrayList<>();
        for (TarReader.Entry e; (e = reader.next()) != null; ) {
            names.add(e.name());
            if (e.name().equals(DEEP)) {
                assertEquals(big.length, e.size());
                assertArrayEquals(big, reader.content().readAllBytes());
            }
            if (e.name().equals("package/a.txt")) {
                assertTrue(e.isFile());
                assertEquals("hel", new String(reader.content().readNBytes(3), StandardCharsets.UTF_8)); // rest is skipped
            }
            if (e.name().endsWith(".pax")) assertArrayEquals(new byte[] {7}, reader.content().readAllBytes());
        }
        assertEquals(List.of("package/", "package/a.txt", DEEP, DEEP + ".gnu", DEEP + ".pax"), names);
    }

    @Test
    void truncatedArchiveFails() throws IOException {
        byte[] tar = new TestTarballs().add("a", new byte[2000], TestTarballs.NameStyle.PLAIN).tar();
        TarReader reader = new TarReader(new ByteArrayInputStream(Arrays.copyOf(tar, 1000)));
        reader.next();
        assertThrows(EOFException.class, () -> reader.content().readAllBytes());
        TarReader headerCut = new TarReader(new ByteArrayInputStream(Arrays.copyOf(tar, 300)));
        assertThrows(EOFException.class, headerCut::next);
    }

    @Test
    void corruptHeaderFails() {
        byte[] tar = new TestTarballs().add("a", new byte[10], TestTarballs.NameStyle.PLAIN).tar();
        tar[3] = 'x';
        var e = assertThrows(IOException.class, () -> new TarReader(new ByteArrayInputStream(tar)).next());
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    }

    @Test
    void archiveWithoutEndBlocksEnds() throws IOException {
        byte[] tar = new TestTarballs().add("a", new byte[10], TestTarballs.NameStyle.PLAIN).tar();
        TarReader reader = new TarReader(new ByteArrayInputStream(Arrays.copyOf(tar, 1024)));
        assertEquals("a", reader.next().name());
        assertNull(reader.next());
    }
}
