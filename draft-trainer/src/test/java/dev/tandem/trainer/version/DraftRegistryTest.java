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

    @Test
    void adoptsVersionsPublishedElsewhereAndPromotesKeptOnes(@TempDir Path root) {
        DraftRegistry registry = DraftRegistry.open(root);
        List<String> published = new ArrayList<>();
        registry.addPublisher((cls, d) -> published.add(cls + ":v" + d.version()));

        // Another node's v4 and v7, under their own version numbers and metrics.
        AcceptanceMetrics m = new AcceptanceMetrics(0.5, 1.2, 0.4, 64);
        registry.adopt("general", draft(4).withVersion(4, "general"), m, AcceptanceMetrics.NONE, 1000, "online: 40 steps");
        registry.adopt("general", draft(7).withVersion(7, "general"), m, AcceptanceMetrics.NONE, 2000, "online: 80 steps");
        assertEquals(7, registry.live("general").orElseThrow().version());
        assertEquals(List.of("general:v4", "general:v7"), published);
        assertEquals(8, registry.nextVersion("general"));
        // Adopting what is live changes nothing; adopting a retired version makes its entry live again.
        registry.adopt("general", draft(7).withVersion(7, "general"), m, AcceptanceMetrics.NONE, 2000, "again");
        assertEquals(2, published.size());
        registry.adopt("general", draft(4).withVersion(4, "general"), m, AcceptanceMetrics.NONE, 1000, "back");
        assertEquals(List.of(DraftVersion.Status.LIVE, DraftVersion.Status.RETIRED),
                registry.history("general").stream().map(DraftVersion::status).toList());
        assertEquals("online: 40 steps", registry.entry("general", 4).orElseThrow().note());

        DraftVersion promoted = registry.promote("general", 7, "operator");
        assertEquals(DraftVersion.Status.LIVE, promoted.status());
        assertEquals(7, registry.live("general").orElseThrow().version());
        assertArrayEquals(draft(7).parameters().output(), registry.live("general").orElseThrow().parameters().output());
        assertEquals(List.of("general:v4", "general:v7", "general:v4", "general:v7"), published);
        assertEquals(7, DraftRegistry.open(root).live("general").orElseThrow().version());

        registry.submit("general", draft(9), comparison(0.1, 0.5, false), "worse");
        var noCheckpoint = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> registry.promote("general", 8, "operator"));
        assertTrue(noCheckpoint.getMessage().contains("rejected"), noCheckpoint.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(java.util.NoSuchElementException.class, () -> registry.promote("general", 3, "x"));
        org.junit.jupiter.api.Assertions.assertThrows(java.util.NoSuchElementException.class, () -> registry.promote("space", 1, "x"));
        assertEquals(7, registry.live("general").orElseThrow().version(), "refused promotions change nothing");
        assertTrue(registry.checkpoint("general", 4).isPresent());
        assertFalse(registry.checkpoint("general", 8).isPresent());
        assertFalse(DraftRegistry.isSafeClassName("../etc"));
        assertFalse(DraftRegistry.isSafeClassName(".hidden"));
        assertTrue(DraftRegistry.isSafeClassName("animals-2.b_c"));
    }
}
