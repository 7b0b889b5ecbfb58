package dev.tandem.engine.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DraftLengthControllerTest {

    private static final double CHEAP = 0.0;
    private static final double ROW = 0.05;

    @Test
    void expectedTokensIsTheGeometricSum() {
        assertEquals(1.0, DraftLengthController.expectedTokens(0.7, 0), 1e-12);
        assertEquals(1 + 0.5 + 0.25 + 0.125, DraftLengthController.expectedTokens(0.5, 3), 1e-12);
        assertEquals(5.0, DraftLengthController.expectedTokens(1.0, 4), 1e-12);
        assertEquals(1.0, DraftLengthController.expectedTokens(0.0, 6), 1e-12);
    }

    @Test
    void draftsMoreAsAcceptanceRises() {
        int previous = 0;
        for (double a : new double[]{0.0, 0.2, 0.5, 0.7, 0.9, 0.99}) {
            int k = DraftLengthController.bestLength(a, 0.1, ROW, 1, 8);
            assertTrue(k >= previous, "k fell from " + previous + " to " + k + " at a = " + a);
            previous = k;
        }
        assertEquals(0, DraftLengthController.bestLength(0.0, 0.1, ROW, 1, 8), "nothing is ever accepted: no drafts");
        assertEquals(8, DraftLengthController.bestLength(0.99, 0.02, ROW, 1, 8), "almost everything accepted: draft the most");
    }

    @Test
    void expensiveDraftsAreWorthLess() {
        int cheap = DraftLengthController.bestLength(0.7, 0.02, ROW, 1, 8);
        int dear = DraftLengthController.bestLength(0.7, 0.5, ROW, 1, 8);
        assertTrue(dear < cheap, "cheap " + cheap + ", dear " + dear);
        // A draft token as dear as a target step never pays off below certain acceptance.
        assertEquals(0, DraftLengthController.bestLength(0.6, 1.0, ROW, 1, 8));
    }

    @Test
    void largerBatchesSpeculateLess() {
        int previous = Integer.MAX_VALUE;
        for (int batch : new int[]{1, 2, 4, 8, 16, 64}) {
            int k = DraftLengthController.bestLength(0.6, CHEAP, 0.1, batch, 8);
            assertTrue(k <= previous, "k rose from " + previous + " to " + k + " at batch " + batch);
            previous = k;
        }
        assertTrue(DraftLengthController.bestLength(0.6, CHEAP, 0.1, 1, 8) > DraftLengthController.bestLength(0.6, CHEAP, 0.1, 64, 8));
    }

    @Test
    void bestLengthMaximizesTokensPerCost() {
        double a = 0.8, c = 0.05, beta = 0.1;
        int best = DraftLengthController.bestLength(a, c, beta, 1, 8);
        double bestValue = DraftLengthController.expectedTokens(a, best) / (c * best + (1 - beta) + beta * (best + 1));
        for (int k = 0; k <= 8; k++) {
            double v = DraftLengthController.expectedTokens(a, k) / (c * k + (1 - beta) + beta * (k + 1));
            assertTrue(v <= bestValue + 1e-12, "k = " + k + " beats the choice " + best);
        }
    }

    @Test
    void acceptanceFollowsWhatIsObservedAndProbesWhenIdle() {
        DraftLengthController controller = new DraftLengthController(8);
        for (int i = 0; i < 50; i++) controller.record(4, 4);
        assertTrue(controller.acceptance() > 0.95, "all accepted: " + controller.acceptance());
        assertEquals(8, controller.choose(0.02, ROW, 1));
        for (int i = 0; i < 50; i++) controller.record(4, 0);
        assertTrue(controller.acceptance(0.0) < 0.05, "all rejected: " + controller.acceptance(0.0));
        assertTrue(controller.acceptance() < 0.2, "all rejected, against the default prior: " + controller.acceptance());
        int drafted = 0;
        for (int step = 0; step < 4 * DraftLengthController.PROBE_INTERVAL; step++) drafted += controller.choose(0.3, ROW, 1);
        assertEquals(4, drafted, "one probe draft every " + DraftLengthController.PROBE_INTERVAL + " steps");
    }

    @Test
    void aNewSequenceStartsFromTheProposersSharedAcceptance() {
        // The cluster's costs on a 2-core AVX2 host: a step of 1, 2, 3 rows 4.1, 5.2, 6.3 ms, a draft token 0.48 ms.
        SpeculationCosts costs = new SpeculationCosts();
        for (int i = 0; i < 20; i++) {
            costs.recordForward(1, 4_100_000);
            costs.recordForward(2, 5_200_000);
            costs.recordForward(3, 6_300_000);
        }
        for (int i = 0; i < 40; i++) costs.recordDraft("draft", 1, 480_000);
        for (int i = 0; i < 300; i++) costs.recordAcceptance("draft", 1, i % 3 == 2 ? 0 : 1); // 2 of 3 accepted
        assertEquals(2 / 3.0, costs.acceptance("draft"), 0.01);
        assertEquals(SpeculationCosts.PRIOR_ACCEPTANCE, costs.acceptance("ngram"), 1e-12, "nothing verified yet");

        DraftLengthController controller = new DraftLengthController(8);
        assertTrue(controller.choose(costs, "draft", 1) > 0, "drafts from the first step");
        controller.record(1, 0); // an unlucky first draft
        assertTrue(controller.choose(costs, "draft", 1) > 0, "one rejection does not stop a sequence drafting");
        for (int i = 0; i < 40; i++) costs.recordDraft("weak", 1, 480_000);
        for (int i = 0; i < 300; i++) costs.recordAcceptance("weak", 1, i % 10 < 3 ? 1 : 0); // 3 of 10 accepted
        DraftLengthController weak = new DraftLengthController(8);
        weak.record(1, 0);
        assertEquals(0, weak.choose(costs, "weak", 1), "a proposer that is lately rejected more than it pays does not");
        for (int i = 0; i < 10; i++) controller.record(1, 0);
        assertEquals(0, controller.choose(costs, "draft", 1), "a sequence whose drafts keep failing stops");
    }

    @Test
    void nonAdaptiveAlwaysDraftsTheMaximum() {
        DraftLengthController fixed = new DraftLengthController(5, false);
        for (int i = 0; i < 20; i++) fixed.record(5, 0);
        assertEquals(5, fixed.choose(1.0, 0.5, 64));
    }
}
