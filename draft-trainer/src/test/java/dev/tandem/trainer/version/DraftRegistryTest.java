package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DraftRegistryTest {

    private static final DraftConfig CONFIG = new DraftConfig(8, 16, 1, 2, 2, 32, 16, 16, 1e-5f, 10000f);

    private static DraftModel draft(long seed) {
        return DraftModel.random(CONFIG, ReducedVocabulary.firstTokens(16, 32), seed);
    }

    private static DraftEvaluator.Comparison comparison(double candidate, double live, boolean better) {
        return new DraftEvaluator.Comparison(new AcceptanceMetrics(candidate, candidate * 2, candidate, 100),
                new AcceptanceMetrics(live, live * 2, live, 100), better);
    }

    @Test
    void publishesOnlyBetterCandidatesRollsBackAndReloads(@TempDir Path root) {
        DraftRegistry registry = DraftRegistry.open(root);
        List<String> published = new ArrayList<>();
        registry.addPublisher((cls, d) -> published.add(cls + ":v" + d.version()));

        DraftVersion v1 = registry.submit("animals", draft(1), comparison(0.4, 0, true), "bootstrap");
        assertEquals(DraftVersion.Status.LIVE, v1.status());
        DraftVersion v2 = registry.submit("animals", draft(2), comparison(0.3, 0.4, false), "online");
        assertEquals(DraftVersion.Status.REJECTED, v2.status());
        assertEquals(1, registry.live("animals").orElseThrow().version());
        DraftModel third = draft(3);
        registry.submit("animals", third, comparison(0.6, 0.4, true), "online");
        assertEquals(3, registry.live("animals").orElseThrow().version());
        assertTrue(Files.isRegularFile(root.resolve("animals/v3.draft")));
        assertFalse(Files.exists(root.resolve("animals/v2.draft")));
        assertEquals(List.of("animals:v1", "animals:v3"), published);

        DraftModel back = registry.rollback("animals", "worse in serving").orElseThrow();
        assertEquals(1, back.version());
        assertEquals(List.of("animals:v1", "animals:v3", "animals:v1"), published);

        DraftRegistry reopened = DraftRegistry.open(root);
        assertEquals(1, reopened.live("animals").orElseThrow().version());
        assertArrayEquals(draft(1).parameters().output(), reopened.live("animals").orElseThrow().parameters().output());
        List<DraftVersion> history = reopened.history("animals");
        assertEquals(List.of(DraftVersion.Status.LIVE, DraftVersion.Status.REJECTED, DraftVersion.Status.ROLLED_BACK),
                history.stream().map(DraftVersion::status).toList());
        assertEquals(0.6, history.get(2).metrics().greedyAcceptance(), 1e-9);
        assertEquals(4, reopened.nextVersion("animals"));
        assertEquals(1, reopened.liveOrGeneral("space").isPresent() ? 0 : 1);
    }
}
