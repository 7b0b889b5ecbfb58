package dev.tandem.engine.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Whether this host gives madvised memory transparent huge pages: Linux with THP at "always" or "madvise". */
public final class TransparentHugePages {

    private static final Path ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    private TransparentHugePages() {}

    public static boolean availableForMadvise() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) return false;
        try {
            String mode = Files.readString(ENABLED);
            return mode.contains("[always]") || mode.contains("[madvise]");
        } catch (IOException e) {
            return false;
        }
    }
}
