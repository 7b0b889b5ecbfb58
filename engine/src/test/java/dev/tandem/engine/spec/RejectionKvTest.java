package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rejections never leave stale keys and values behind: a generation over the whole context with a weak
 * draft (most drafts rejected, at every position of the draft) equals the non-speculative run, and after
 * every step the target's and the draft's caches hold exactly the committed positions.
 */
class RejectionKvTest {

    private static final int DRAFTS = 4;
    private static final String PROMPT = "Once upon a time";

    private static LoadedModel model;
    private static Tokenizer tokenizer;
    private static ParallelRunner runner;

    @BeforeAll
    static void setUp() {
        model = Stories.load();
        tokenizer = Stories.tokenizer(model);
        runner = new ParallelRunner(2);
    }

    @AfterAll
    static void tearDown() {
        if (runner != null) runner.close();
        if (model != null) model.close();
    }

    /**
     * Decodes until the context is full (the decoder does not stop at EOS; stop rules belong to the text
     * layer), checking after every step that the target caches exactly the committed tokens but the last.
     */
    private static int[] decodeWholeContext(ProposerFactory proposers, int[] prompt, int[] partialRejections, SpeculationStats[] stats) {
        try (SpeculativeDecoder decoder = new SpeculativeDecoder(model.weights(), runner, proposers, new SpeculationCosts(),
                SpeculationOptions.fixed(DRAFTS))) {
            DecodingSequence s = decoder.start(3, prompt, SamplerSettings.greedy(), model.config().seqLen() * 2);
            while (!s.exhausted()) {
                long acceptedBefore = s.stats().accepted();
                long proposedBefore = s.stats().proposed();
                decoder.step(List.of(s));
                long accepted = s.stats().accepted() - acceptedBefore;
                long proposed = s.stats().proposed() - proposedBefore;
                if (accepted > 0 && accepted < proposed) partialRejections[0]++;
                assertEquals(s.history().length() - 1, decoder.target().cache().length(3),
                        "the target caches exactly the committed tokens but the last");
            }
            stats[0] = s.stats();
            decoder.release(s);
            assertEquals(0, decoder.target().cache().sequences().length);
            return java.util.Arrays.copyOfRange(s.history().toArray(), prompt.length, s.history().length());
        }
    }

    @Test
    void aWholeContextGenerationWithManyRejectionsEqualsTheTargetAlone() {
        int[] prompt = tokenizer.encode(PROMPT, true, false);
        int[] ignored = {0};
        SpeculationStats[] stats = new SpeculationStats[1];
        int[] reference = decodeWholeContext(NoneProposer.factory(), prompt, ignored, stats);
        assertEquals(model.config().seqLen() - prompt.length + 1, reference.length, "the run fills the context");
        GenerationResult local = new LocalGenerator(model.weights(), tokenizer, runner)
                .generate(GenerationRequest.greedy(PROMPT, reference.length), GenerationListener.NONE);
        assertArrayEquals(local.tokens(), java.util.Arrays.copyOf(reference, local.tokens().length), "none = the target alone");

        DraftModel draft = Stories.draftFromTarget(model, 2);
        int[] partial = {0};
        int[] speculative = decodeWholeContext(
                DraftModelProposer.factory(draft, model.config().vocabSize(), model.config().seqLen(), runner), prompt, partial, stats);
        assertArrayEquals(reference, speculative);
        assertTrue(stats[0].proposed() - stats[0].accepted() > 100, "too few rejections to test: " + stats[0]);
        assertTrue(partial[0] > 5, "too few steps with a rejection after an accepted draft: " + partial[0] + ", " + stats[0]);
    }

    @Test
    void withoutDraftsSeededSamplingReproducesTheNonSpeculativeGenerator() {
        GenerationRequest r = new GenerationRequest(PROMPT, 120, new SamplerSettings(1.0f, 0, 0.9f, 1234), List.of());
        GenerationResult expected = new LocalGenerator(model.weights(), tokenizer, runner).generate(r, GenerationListener.NONE);
        SpeculationCosts costs = new SpeculationCosts();
        try (SpeculativeGenerator g = new SpeculativeGenerator(model.weights(), tokenizer, runner, NoneProposer.factory(), costs,
                SpeculationOptions.defaults())) {
            assertArrayEquals(expected.tokens(), g.generate(r, GenerationListener.NONE).generation().tokens());
        }
    }
}
