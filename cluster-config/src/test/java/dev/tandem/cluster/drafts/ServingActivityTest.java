package dev.tandem.cluster.drafts;

import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.trainer.idle.IdleGovernor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker's serving load as the trainer's governor sees it, and the drafts settings. */
class ServingActivityTest {

    private long now = 1_000_000_000L;

    @Test
    void aClosedTrainingGateLooksLikeLoadToTheGovernor() {
        TrainingGate gate = new TrainingGate();
        // The most tolerant settings still yield to a closed gate.
        IdleGovernor governor = new IdleGovernor(new IdleGovernor.Settings(Integer.MAX_VALUE - 1, Integer.MAX_VALUE - 1, 1.5, 0),
                gate.signals(() -> dev.tandem.trainer.idle.ServingSignals.IDLE), () -> now);
        assertTrue(gate.isOpen());
        assertTrue(governor.mayTrain());
        gate.open(false);
        assertFalse(governor.mayTrain());
        gate.open(true);
        assertTrue(governor.mayTrain());
    }

    @Test
    void sequencesOnTheLastStageKeepTrainingOffUntilReleasedOrStale() {
        List<String> calls = new ArrayList<>();
        VerificationListener recorder = new VerificationListener() {
            @Override public void onStart(long seqId, int[] prompt, String trafficClass) { calls.add("start " + seqId + " " + trafficClass); }
            @Override public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                                             int committedRows, Draft draft, int acceptedDrafts) { calls.add("verified " + seqId); }
            @Override public void onRelease(long seqId) { calls.add("release " + seqId); }
        };
        ServingActivity activity = new ServingActivity(recorder, 60_000_000_000L, () -> now);
        IdleGovernor governor = new IdleGovernor(new IdleGovernor.Settings(0, 0, 1.5, 0), activity::signals, () -> now);
        assertTrue(governor.mayTrain());

        activity.onStart(1, new int[] {1, 5}, "animals");
        activity.onStart(2, new int[] {1, 6}, "");
        assertEquals(2, activity.activeSequences());
        assertFalse(governor.mayTrain(), "a running sequence is load");
        now += 20_000_000;
        activity.onVerified(1, new TokenHistory(new int[] {1, 5, 7}, 8), 2, null, 0, 1, new Draft(1, 4), 0);
        activity.onRelease(1);
        assertEquals(1, activity.activeSequences());
        assertFalse(governor.mayTrain());
        assertEquals(List.of("start 1 animals", "start 2 ", "verified 1", "release 1"), calls, "every call reaches the recorder");

        // Sequence 2's stage went away without a release: after the stale bound it no longer counts.
        now += 61_000_000_000L;
        assertEquals(0, activity.activeSequences());
        assertTrue(governor.mayTrain());
    }

    @Test
    void settingsCheckTheChunkSizeAndDeriveEachNodesDirectory() {
        var base = ConfigFactory.load();
        DraftsSettings s = DraftsSettings.fromConfig(base);
        assertTrue(s.enabled());
        assertTrue(s.chunkBytes() < base.getBytes("tandem.serialization.max-message-bytes"));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> DraftsSettings.fromConfig(
                ConfigFactory.parseMap(Map.of("tandem.drafts.chunk-bytes", "2 MiB")).withFallback(base)));
        assertTrue(big.getMessage().contains("max-message-bytes"), big.getMessage());

        assertTrue(s.registryDir(true).endsWith(Path.of("drafts")));
        assertNull(s.registryDir(false), "a worker-only node gets a temporary directory");
        DraftsSettings own = DraftsSettings.fromConfig(ConfigFactory.parseMap(Map.of("tandem.drafts.dir", "/tmp/c",
                "tandem.drafts.worker-dir", "/tmp/w")).withFallback(base));
        assertEquals(Path.of("/tmp/c"), own.registryDir(true));
        assertEquals(Path.of("/tmp/w"), own.registryDir(false));
    }
}
