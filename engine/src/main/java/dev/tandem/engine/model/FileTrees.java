package dev.tandem.engine.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Deleting a directory with everything under it (work and temporary directories of the Tandem home and of runs). */
public final class FileTrees {

    private FileTrees() {}

    /** Deletes {@code root} and everything under it; nothing if it does not exist. */
    public static void delete(Path root) {
        if (!Files.exists(root)) return;
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + root, e);
        }
    }

    /** As {@link #delete}, for leftovers that do no harm: returns whether all of it is gone instead of failing. */
    public static boolean deleteQuietly(Path root) {
        try {
            delete(root);
            return true;
        } catch (UncheckedIOException e) {
            return false;
        }
    }
}
