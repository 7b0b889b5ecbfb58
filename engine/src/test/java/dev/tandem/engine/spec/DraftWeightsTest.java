package dev.tandem.engine.spec;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.DraftWeights;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The draft proposer's int8 copy: greedy speculative decoding with it equals the target alone, as with the float32
 * copy, and with the target itself as the draft nearly every int8 proposal is accepted (they differ from float32's
 * only at near-ties); the setting parses and refuses bad values by name.
 */
class DraftWeightsTest {

    private static final int DRAFTS = 4;
    private static final int NEW_TOKENS = 200;

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

    private static int[] decode(ProposerFactory proposers, int[] prompt, SpeculationStats[] stats) {
        try (SpeculativeDecoder decoder = new SpeculativeDecoder(model.weights(), runner, proposers, new SpeculationCosts(),
                SpeculationOptions.fixed(DRAFTS))) {
            DecodingSequence s = decoder.start(7, prompt, SamplerSettings.greedy(), NEW_TOKENS);
            while (!s.exhausted()) decoder.step(List.of(s));
            stats[0] = s.stats();
            decoder.release(s);
            return Arrays.copyOfRange(s.history().toArray(), prompt.length, s.history().length());
        }
    }

    @Test
    void int8DraftsDecodeExactlyAndAreAcceptedAsOftenAsFloat32Ones() {
        // The whole target as its own draft: float32 proposals are the target's tokens, so every draft is accepted,
        // and what int8 loses shows alone.
        DraftModel draft = DraftModel.fromTarget(model.weights(), model.config().nLayers(),
                ReducedVocabulary.full(model.config().vocabSize()));
        int vocab = model.config().vocabSize();
        int seqLen = model.config().seqLen();
        for (String text : new String[]{"Once upon a time", "Lily and Ben went to the park"}) {
            int[] prompt = tokenizer.encode(text, true, false);
            SpeculationStats[] none = new SpeculationStats[1];
            SpeculationStats[] f32 = new SpeculationStats[1];
            SpeculationStats[] int8 = new SpeculationStats[1];
            int[] reference = decode(NoneProposer.factory(), prompt, none);
            int[] withFloat32 = decode(DraftModelProposer.factory(draft, vocab, seqLen, runner, DraftWeights.FLOAT32), prompt, f32);
            int[] withInt8 = decode(DraftModelProposer.factory(draft, vocab, seqLen, runner, DraftWeights.INT8), prompt, int8);
            assertArrayEquals(reference, withFloat32, text + ": float32 draft");
            assertArrayEquals(reference, withInt8, text + ": int8 draft");
            assertTrue(int8[0].proposed() > 100 && f32[0].proposed() > 100, "too few drafts to compare: " + int8[0] + ", " + f32[0]);
            double a8 = (double) int8[0].accepted() / int8[0].proposed();
            double a32 = (double) f32[0].accepted() / f32[0].proposed();
            assertEquals(1.0, a32, 0.0, text + ": the float32 copy of the target proposes the target's tokens: " + f32[0]);
            assertTrue(a8 >= 0.97, text + ": the int8 copy should differ at near-ties only: " + int8[0]);
        }
    }

    @Test
    void aDraftWithAValueThatIsNotFiniteIsServedFromItsFloat32Copy() {
        DraftModel draft = Stories.draftFromTarget(model, 1);
        draft.parameters().output()[5] = Float.NaN; // no int8 bound holds for its row
        ProposerFactory factory = DraftModelProposer.factory(draft, model.config().vocabSize(), model.config().seqLen(),
                runner, DraftWeights.INT8);
        int[] prompt = tokenizer.encode("Once upon a time", true, false);
        SpeculationStats[] stats = new SpeculationStats[1];
        SpeculationStats[] none = new SpeculationStats[1];
        assertArrayEquals(decode(NoneProposer.factory(), prompt, none), decode(factory, prompt, stats));
    }

    @Test
    void theSettingParsesAndRefusesBadValuesByName() {
        assertEquals(DraftWeights.INT8, DraftWeights.parse(" INT8 "));
        assertEquals(DraftWeights.FLOAT32, DraftWeights.parse("float32"));
        assertEquals(DraftWeights.INT8, EngineSettings.fromConfig(ConfigFactory.load()).draftWeights(), "the default");
        ConfigException.BadValue e = assertThrows(ConfigException.BadValue.class, () -> EngineSettings.fromConfig(
                ConfigFactory.parseString("tandem.engine.draft-weights = fp16").withFallback(ConfigFactory.load())));
        assertTrue(e.getMessage().contains("tandem.engine.draft-weights") && e.getMessage().contains("[int8, float32]"), e.getMessage());
    }
}
