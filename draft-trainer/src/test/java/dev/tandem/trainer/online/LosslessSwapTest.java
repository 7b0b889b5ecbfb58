package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import dev.tandem.trainer.version.SwappableDraft;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On stories15M: 8 greedy streams served with drafts swapped between rounds (a cut draft, then a random
 * one published by force) give exactly the non-speculative output, the recorder's teacher argmax is the
 * committed token at every recorded position, and the registry refuses a worse candidate.
 */
class LosslessSwapTest {

    private static final int STREAMS = 8;
    private static final int TOKENS = 24;

    @Test
    void swappingDraftsNeverChangesGreedyOutput(@TempDir Path dir) {
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            List<TrafficGenerator.Request> requests = TrafficGenerator.builtIn(3).take(TrafficGenerator.ANIMALS, STREAMS);
            List<GenerationRequest> gen = requests.stream().map(r -> GenerationRequest.greedy(r.prompt(), TOKENS)).toList();
            List<SpeculativeResult> reference;
            try (SpeculativeGenerator none = new SpeculativeGenerator(m.model().weights(), m.tokenizer(), runner, NoneProposer.factory(),
                    SpeculationOptions.fixed(0))) {
                reference = none.generateAll(gen, listeners());
            }
            int vocab = m.config().vocabSize();
            DraftModel cut = DraftModel.fromTarget(m.model().weights(), 1, ReducedVocabulary.firstTokens(2048, vocab));
            DraftModel random = DraftModel.random(cut.config(), cut.vocabulary(), 9);
            Map<Long, String> classes = new ConcurrentHashMap<>();
            SwappableDraft drafts = new SwappableDraft(vocab, m.config().seqLen(), runner, classes::get);
            DraftRegistry registry = DraftRegistry.open(dir);
            registry.addPublisher(drafts);
            List<DistillationSample> samples = Collections.synchronizedList(new ArrayList<>());
            TrafficRecorder recorder = new TrafficRecorder(4, 1.0, 1 << 24, samples::add, p -> "animals", 1);
            try (SpeculativeGenerator spec = new SpeculativeGenerator(m.model().weights(), m.tokenizer(), runner, drafts,
                    SpeculationOptions.fixed(4))) {
                spec.decoder().setVerificationListener(recorder);
                for (DraftModel d : List.of(cut, random)) {
                    registry.submit("animals", d, new DraftEvaluator.Comparison(AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, true), "forced");
                    for (int i = 0; i < STREAMS; i++) classes.put((long) i, "animals");
                    List<SpeculativeResult> out = spec.generateAll(gen, listeners());
                    for (int i = 0; i < STREAMS; i++) {
                        assertArrayEquals(reference.get(i).generation().tokens(), out.get(i).generation().tokens(), "stream " + i);
                    }
                }
            }
            assertEquals(2 * STREAMS, samples.size());
            for (DistillationSample s : samples) {
                assertTrue(s.positionCount() >= TOKENS - 1);
                for (int i = 0; i < s.positionCount(); i++) assertEquals(s.tokens()[s.positions()[i]], s.teacherArgmax(i));
            }
            assertTrue(java.util.stream.IntStream.range(0, samples.size()).anyMatch(i -> {
                boolean[] r = samples.get(i).rejected();
                for (boolean b : r) if (b) return true;
                return false;
            }));
            // A worse candidate (the random draft against the cut one, measured) is not published.
            DraftEvaluator evaluator = new DraftEvaluator(0);
            DraftEvaluator.Comparison worse = evaluator.compare(random, cut, samples);
            assertFalse(worse.better());
            DraftVersion entry = registry.submit("animals", random, worse, "worse");
            assertEquals(DraftVersion.Status.REJECTED, entry.status());
            assertEquals(2, registry.live("animals").orElseThrow().version());
        }
    }

    private static List<GenerationListener> listeners() {
        return new ArrayList<>(Collections.nCopies(STREAMS, GenerationListener.NONE));
    }
}
