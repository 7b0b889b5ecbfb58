package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.distill.TinyDrafts;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.ReplayBuffers;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The online trainer publishes a better draft for a class from its recorded traffic, and never a worse one. */
class OnlineTrainerTest {

    @Test
    void publishesABetterClassDraftFromRecordedTraffic(@TempDir Path dir) {
        int vocab = 48;
        DraftModel teacher = DraftModel.random(new DraftConfig(32, 64, 2, 4, 4, vocab, vocab, 32, 1e-5f, 10000f),
                ReducedVocabulary.full(vocab), 1);
        ReplayBuffers buffers = new ReplayBuffers(1 << 24, 1 << 22, 5, 100);
        for (DistillationSample s : TinyDrafts.teacherSamples(teacher, 150, 3, 20, 8, 2)) {
            buffers.accept(new DistillationSample("a", 0, s.tokens(), s.positions(), s.topK(), s.teacherIds(), s.teacherLogits(),
                    s.logNormalizers(), s.rejected()));
        }
        DraftRegistry registry = DraftRegistry.open(dir);
        DraftModel general = DraftModel.random(new DraftConfig(24, 48, 1, 4, 2, vocab, 34, 32, 1e-5f, 10000f),
                TinyDrafts.reducedVocabulary(34, vocab), 4);
        registry.submit(DraftModel.GENERAL_CLASS, general, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true), "test");
        TrainerSettings defaults = TrainerSettings.defaults();
        TrainerSettings settings = new TrainerSettings(8, 1, 1 << 20, false, 1 << 24, 1 << 22, 5, 1, 34, 10, true,
                defaults.distiller().withLearningRate(5e-3), 5e-3, true, 8, 30, 20, 0.0, true, 5, 0.9, defaults.idle(), 1_000_000, false, 1, 16, 1);
        OnlineTrainer trainer = new OnlineTrainer(settings, buffers, registry);
        for (int i = 0; i < 400 && registry.live("a").isEmpty(); i++) trainer.step();
        DraftModel published = registry.live("a").orElseThrow(() -> new AssertionError("nothing published: " + trainer.events()));
        List<DistillationSample> heldOut = buffers.buffer("a").recentHeldOut(100);
        DraftEvaluator evaluator = new DraftEvaluator(0);
        AcceptanceMetrics before = evaluator.evaluate(general, heldOut);
        AcceptanceMetrics after = evaluator.evaluate(published, heldOut);
        assertTrue(after.expectedAccepted() > before.expectedAccepted(), before + " -> " + after);
        for (OnlineTrainer.Event e : trainer.events()) {
            if (e.entry().status() == DraftVersion.Status.LIVE) {
                assertTrue(e.comparison().candidate().expectedAccepted() > e.comparison().live().expectedAccepted());
            }
        }
    }
}
