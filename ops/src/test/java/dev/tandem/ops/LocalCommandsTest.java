package dev.tandem.ops;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The local commands as a user meets them: stdout contract, exit codes and one-line errors. */
class LocalCommandsTest {

    private static Path modelDir;

    @BeforeAll
    static void model() {
        modelDir = ModelStore.ensureDefault(ProgressListener.NONE);
    }

    @Test
    void generatePrintsExactlyThePromptAndTheTextOnStdout() throws IOException {
        CliRun run = CliRun.of("generate", "--local", "--prompt", "Lily and Ben went to the park", "--temperature", "0",
                "--max-tokens", "1000");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(reference("greedy_lily_and_ben.txt"), run.out());
        assertTrue(run.err().contains("new tokens"), run.err());
    }

    @Test
    void maxTokensCountsNewTokens() {
        CliRun run = CliRun.of("generate", "--local", "-p", "Once upon a time", "-t", "0", "-n", "5");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals("Once upon a time, there was a little\n", run.out());
    }

    @Test
    void emptyPromptIsAUsageError() {
        CliRun run = CliRun.of("generate", "--local", "--prompt", "");
        assertEquals(2, run.exitCode());
        assertEquals("tandem: error: the prompt is empty: pass some text with --prompt\n", run.err());
        assertEquals("", run.out());
    }

    @Test
    void promptLongerThanTheContextIsRejected() {
        CliRun run = CliRun.of("generate", "--local", "--prompt", "Once upon a time ".repeat(100), "-t", "0");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().startsWith("tandem: error: the prompt is 402 tokens"), run.err());
        assertTrue(run.err().contains("context of 256 tokens"), run.err());
        assertFalse(run.err().contains("Exception"), run.err());
    }

    @Test
    void badSamplingFlagsAreUsageErrors() {
        assertEquals(2, CliRun.of("generate", "--local", "-p", "x", "--top-p", "1.5").exitCode());
        assertEquals(2, CliRun.of("generate", "--local", "-p", "x", "--temperature", "-1").exitCode());
        assertEquals(2, CliRun.of("generate", "--local", "-p", "x", "--max-tokens", "0").exitCode());
        assertEquals(2, CliRun.of("generate", "--local", "-p", "x", "--threads", "0").exitCode());
        assertEquals(2, CliRun.of("generate", "--prompt", "x").exitCode(), "where to run is required");
    }

    @Test
    void missingModelFileNamesTheFile(@TempDir Path dir) {
        Path missing = dir.resolve("nothing.bin");
        CliRun run = CliRun.of("generate", "--local", "-p", "x", "--model", missing.toString());
        assertEquals(1, run.exitCode());
        assertEquals("tandem: error: model file not found: " + missing + "\n", run.err());
    }

    @Test
    void truncatedModelFileIsRejected(@TempDir Path dir) throws IOException {
        Path truncated = dir.resolve("model.bin");
        try (InputStream in = Files.newInputStream(modelDir.resolve("model.bin"))) {
            Files.write(truncated, in.readNBytes(1_000_000));
        }
        Files.copy(modelDir.resolve("tokenizer.bin"), dir.resolve("tokenizer.bin"));
        CliRun run = CliRun.of("generate", "--local", "-p", "x", "--model", truncated.toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("truncated"), run.err());
        assertTrue(run.err().contains(truncated.toString()), run.err());
    }

    @Test
    void wrongShaIsReportedWithBothHashes(@TempDir Path dir) throws IOException {
        Path other = dir.resolve("model.bin");
        Files.writeString(other, "not the model");
        CliRun run = CliRun.of("model", "verify", other.toString());
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains("expected cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a"), run.err());
    }

    @Test
    void installedDefaultModelVerifies() {
        CliRun run = CliRun.of("model", "verify");
        assertEquals(0, run.exitCode(), run.err());
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] args : new String[][]{{"--help"}, {"generate", "--help"}, {"model", "--help"}, {"model", "pull", "--help"},
                {"bench", "engine", "--help"}, {"demo", "--help"}}) {
            CliRun run = CliRun.of(args);
            assertEquals(0, run.exitCode(), String.join(" ", args));
            assertTrue(run.out().contains("Usage: tandem"), run.out());
        }
    }

    private static String reference(String name) throws IOException {
        try (InputStream in = LocalCommandsTest.class.getResourceAsStream("/reference/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
