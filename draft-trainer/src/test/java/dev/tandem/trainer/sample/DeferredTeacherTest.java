package dev.tandem.trainer.sample;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.llama.GreedyHead;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.SwappableDraft;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On stories15M: a recorder that defers the teacher (keeps greedy rows' hidden states, computes their logits later)
 * asks the target for greedy tokens only, emits nothing until its samples are resolved, and then gives the samples a
 * recorder taking the top logits on the serving path gives: same positions and rejections, same greedy token, the
 * same top logits and normalizer up to float rounding and the greedy screen's bound on the tail.
 */
class DeferredTeacherTest {

    private static final int STREAMS = 4;
    private static final int TOKENS = 32;
    private static final int TOP_K = 8;

    @Test
    void deferredTeachersMatchTheOnesTakenWhileServing() throws InterruptedException {
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            List<GenerationRequest> gen = TrafficGenerator.builtIn(5).take(TrafficGenerator.ANIMALS, STREAMS).stream()
                    .map(r -> GenerationRequest.greedy(r.prompt(), TOKENS)).toList();
            int vocab = m.config().vocabSize();
            DraftModel cut = DraftModel.fromTarget(m.model().weights(), 1, ReducedVocabulary.firstTokens(2048, vocab));
            List<DistillationSample> now = record(m, runner, cut, gen, false, null);
            List<DistillationSample> later = Collections.synchronizedList(new ArrayList<>());
            TrafficRecorder deferring = new TrafficRecorder(TOP_K, 1.0, 1 << 24, later::add, p -> "animals", 1).deferTeacher(true);
            record(m, runner, cut, gen, true, deferring);
            assertTrue(later.isEmpty(), "nothing reaches the sink before its teacher is computed");
            assertEquals(STREAMS, deferring.deferredSamples());
            int resolved = 0;
            while (deferring.resolveDeferred()) resolved++;
            assertEquals(STREAMS, resolved);
            assertFalse(deferring.resolveDeferred());
            assertEquals(STREAMS, deferring.recordedSamples());

            assertEquals(STREAMS, now.size());
            Comparator<DistillationSample> byTokens = Comparator.comparing(s -> java.util.Arrays.toString(s.tokens()));
            now.sort(byTokens);
            later.sort(byTokens);
            for (int s = 0; s < STREAMS; s++) {
                DistillationSample a = now.get(s);
                DistillationSample b = later.get(s);
                assertArrayEquals(a.tokens(), b.tokens());
                assertArrayEquals(a.positions(), b.positions());
                assertArrayEquals(a.rejected(), b.rejected());
                for (int i = 0; i < a.positionCount(); i++) {
                    assertEquals(a.tokens()[a.positions()[i]], b.teacherArgmax(i), "the greedy token is the committed one");
                    assertEquals(a.teacherArgmax(i), b.teacherArgmax(i));
                    Set<Integer> idsA = ids(a, i);
                    Set<Integer> idsB = ids(b, i);
                    idsA.retainAll(idsB);
                    assertTrue(idsA.size() >= TOP_K - 1, "top-" + TOP_K + " sets differ beyond a near tie at position " + i);
                    assertEquals(a.teacherLogits()[i * TOP_K], b.teacherLogits()[i * TOP_K], 1e-3f);
                    assertEquals(a.logNormalizers()[i], b.logNormalizers()[i], 1e-2f);
                }
            }
        }
    }

    @Test
    void aSampleWhoseStageStoppedIsDroppedAndTheRecorderGoesOn() throws InterruptedException {
        List<DistillationSample> later = Collections.synchronizedList(new ArrayList<>());
        TrafficRecorder deferring = new TrafficRecorder(TOP_K, 1.0, 1 << 24, later::add, p -> "animals", 1).deferTeacher(true);
        List<GenerationRequest> gen = TrafficGenerator.builtIn(7).take(TrafficGenerator.ANIMALS, 2).stream()
                .map(r -> GenerationRequest.greedy(r.prompt(), 8)).toList();
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            DraftModel cut = DraftModel.fromTarget(m.model().weights(), 1, ReducedVocabulary.firstTokens(2048, m.config().vocabSize()));
            record(m, runner, cut, gen, true, deferring);
        } // as a stopping stage closes its weights
        assertEquals(2, deferring.deferredSamples());
        assertTrue(deferring.resolveDeferred());
        assertTrue(deferring.resolveDeferred());
        assertFalse(deferring.resolveDeferred());
        assertTrue(later.isEmpty());
        assertTrue(deferring.droppedPositions() >= 2 * 7, "dropped " + deferring.droppedPositions());
    }

    private static Set<Integer> ids(DistillationSample s, int i) {
        return IntStream.range(i * s.topK(), (i + 1) * s.topK()).map(j -> s.teacherIds()[j]).boxed().collect(Collectors.toSet());
    }

    /** Serves the requests with the cut draft (3 per step) and a recorder; returns what it emitted. */
    private static List<DistillationSample> record(OpenedModel m, ParallelRunner runner, DraftModel cut, List<GenerationRequest> gen,
                                                   boolean defer, TrafficRecorder given)
            throws InterruptedException {
        List<DistillationSample> samples = Collections.synchronizedList(new ArrayList<>());
        TrafficRecorder recorder = given != null ? given : new TrafficRecorder(TOP_K, 1.0, 1 << 24, samples::add, p -> "animals", 1);
        SwappableDraft drafts = new SwappableDraft(m.config().vocabSize(), m.config().seqLen(), runner, id -> DraftModel.GENERAL_CLASS);
        drafts.live(DraftModel.GENERAL_CLASS, cut);
        try (SpeculativeGenerator spec = new SpeculativeGenerator(m.model().weights(), m.tokenizer(), runner, drafts, SpeculationOptions.fixed(3))) {
            spec.decoder().setVerificationListener(recorder);
            // Until the greedy screen's kernels are warm, greedy rows take the full head and come with their logits,
            // which the recorder then keeps at once: deferring is what a warm stage does.
            assertTrue(GreedyHead.awaitWarm(Duration.ofMinutes(2)), "the greedy screen did not warm up");
            recorder.begin(-1, "probe");
            assertEquals(defer ? RowOutput.GREEDY_TOKEN : RowOutput.TOP_LOGITS, recorder.verifiedRow(-1, true));
            recorder.abandon(-1);
            spec.generateAll(gen, new ArrayList<>(Collections.nCopies(gen.size(), GenerationListener.NONE)));
        }
        return samples;
    }
}
