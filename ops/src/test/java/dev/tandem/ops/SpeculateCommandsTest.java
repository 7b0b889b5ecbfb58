package dev.tandem.ops;

import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --speculate on generate --local, and bench spec, as a user meets them. */
class SpeculateCommandsTest {

    private static final String[] GREEDY = {"generate", "--local", "-p", "Once upon a time", "-t", "0", "-n", "40"};

    private static Path draftFile;
    private static String expected;

    @BeforeAll
    static void setUp(@TempDir Path dir) {
        Path modelDir = ModelStore.ensureDefault(ProgressListener.NONE);
        try (LoadedModel model = Llama2cModelLoader.load(modelDir.resolve("model.bin"))) {
            draftFile = dir.resolve("test.draft");
            DraftCheckpoint.write(draftFile, DraftModel.fromTarget(model.weights(), 2,
                    ReducedVocabulary.firstTokens(2048, model.config().vocabSize())).withVersion(3, "stories"));
        }
        CliRun plain = CliRun.of(GREEDY);
        assertEquals(0, plain.exitCode(), plain.err());
        expected = plain.out();
    }

    private static String[] with(String... extra) {
        String[] args = java.util.Arrays.copyOf(GREEDY, GREEDY.length + extra.length);
        System.arraycopy(extra, 0, args, GREEDY.length, extra.length);
        return args;
    }

    @Test
    void everyProposerPrintsExactlyTheSameTextAndItsStatisticsOnStderr() {
        for (String proposer : new String[]{"ngram", "layerskip", "auto"}) {
            CliRun run = CliRun.of(with("--speculate", proposer));
            assertEquals(0, run.exitCode(), run.err());
            assertEquals(expected, run.out(), proposer);
            assertTrue(run.err().contains("tandem: speculation " + proposer + ": "), run.err());
        }
        CliRun draft = CliRun.of(with("--speculate", "draft", "--draft", draftFile.toString(), "--draft-length", "3"));
        assertEquals(0, draft.exitCode(), draft.err());
        assertEquals(expected, draft.out());
        assertTrue(draft.err().contains("tokens per step"), draft.err());
    }

    @Test
    void draftWithoutACheckpointIsAUsageError() {
        CliRun run = CliRun.of(with("--speculate", "draft"));
        if (Files.isRegularFile(DraftCheckpoint.defaultPath())) return; // a default draft exists on this machine
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("tandem: error: --speculate draft needs a draft checkpoint"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void badSpeculationFlagsAndFilesAreReported(@TempDir Path dir) throws IOException {
        CliRun unknown = CliRun.of(with("--speculate", "magic"));
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().contains("--speculate must be one of none, ngram, draft, layerskip, auto"), unknown.err());
        assertEquals(2, CliRun.of(with("--speculate", "ngram", "--draft-length", "-1")).exitCode());
        Path bad = dir.resolve("bad.draft");
        Files.writeString(bad, "not a draft");
        CliRun corrupt = CliRun.of(with("--speculate", "draft", "--draft", bad.toString()));
        assertEquals(1, corrupt.exitCode());
        assertTrue(corrupt.err().contains(bad.toString()) && corrupt.err().contains("truncated"), corrupt.err());
        CliRun missing = CliRun.of(with("--speculate", "draft", "--draft", dir.resolve("none.draft").toString()));
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().contains("draft checkpoint not found"), missing.err());
    }

    @Test
    void benchSpecPrintsJsonResults() {
        CliRun run = CliRun.of("bench", "spec", "--json", "--requests", "2", "--rounds", "1", "--tokens", "8", "--streams", "1,2",
                "--proposers", "ngram,draft", "--draft", draftFile.toString(), "--warmup", "0", "--threads", "2");
        assertEquals(0, run.exitCode(), run.err());
        String json = run.out().trim();
        assertTrue(json.startsWith("{\"results\": [{\"proposer\": \"none\", \"mode\": \"local\", \"streams\": 1,"), json);
        for (String key : new String[]{"\"acceptance\": ", "\"tokens_per_step\": ", "\"tok_s\": ", "\"speedup\": ", "\"lossless\": true"}) {
            assertTrue(json.contains(key), key + " in " + json);
        }
        assertTrue(json.contains("\"proposer\": \"draft\", \"mode\": \"local\", \"streams\": 2"), json);
        assertTrue(!json.contains("\"lossless\": false"), json);
    }
}
