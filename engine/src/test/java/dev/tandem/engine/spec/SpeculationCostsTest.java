package dev.tandem.engine.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpeculationCostsTest {

    /** Forward times of a greedy target with the int8 screen, 1 to 5 rows (stories15M, 2 cores), in microseconds. */
    private static final long[] SCREENED_MICROS = {0, 830, 845, 1290, 1370, 1800};

    private static SpeculationCosts measured(long[] micros, int repeats) {
        SpeculationCosts costs = new SpeculationCosts();
        for (int i = 0; i < repeats; i++) {
            for (int rows = 1; rows < micros.length; rows++) if (micros[rows] > 0) costs.recordForward(rows, micros[rows] * 1000);
        }
        return costs;
    }

    @Test
    void nothingMeasuredMeansNoEstimate() {
        SpeculationCosts costs = new SpeculationCosts();
        assertFalse(costs.measured());
        assertEquals(0, costs.forwardNanos(3));
        assertEquals(0, costs.stepNanos());
    }

    @Test
    void eachMeasuredRowCountKeepsItsOwnTime() {
        SpeculationCosts costs = measured(SCREENED_MICROS, 20);
        for (int rows = 1; rows <= 5; rows++) assertEquals(SCREENED_MICROS[rows] * 1000.0, costs.forwardNanos(rows), 1.0, "rows " + rows);
        assertEquals(830_000, costs.stepNanos(), 1.0);
    }

    @Test
    void unmeasuredCountsAreInterpolatedOrExtended() {
        SpeculationCosts costs = measured(new long[]{0, 1000, 0, 0, 1600}, 10);
        assertEquals(1_200_000, costs.forwardNanos(2), 1.0, "between 1 and 4 rows");
        assertEquals(1_400_000, costs.forwardNanos(3), 1.0);
        double slope = costs.forwardNanos(6) - costs.forwardNanos(5);
        assertTrue(slope > 0, "beyond the largest count the time still grows");
        assertEquals(1_600_000 + 2 * slope, costs.forwardNanos(6), 1.0, "extended from the nearest count by a constant slope");

        SpeculationCosts batched = measured(new long[]{0, 0, 0, 0, 0, 0, 0, 0, 4000}, 10);
        double one = batched.forwardNanos(1);
        assertTrue(one >= 4_000_000 / 8.0 && one < 4_000_000, "below every measured count: at least an equal share, got " + one);
    }

    @Test
    void slowOutliersMoveTheEstimateLittleAndFastSamplesReplaceColdOnes() {
        SpeculationCosts costs = measured(new long[]{0, 1000}, 20);
        costs.recordForward(1, 50_000_000); // a 50 ms pause
        assertTrue(costs.forwardNanos(1) < 1_000_000 + 0.06 * 49_000_000, "one pause: " + costs.forwardNanos(1));

        SpeculationCosts cold = new SpeculationCosts();
        cold.recordForward(2, 20_000_000); // measured once before the JIT compiled the kernels
        for (int i = 0; i < 20; i++) cold.recordForward(2, 1_000_000);
        assertEquals(1_000_000, cold.forwardNanos(2), 0.02 * 1_000_000, "the compiled time takes over within 20 steps");
    }

    @Test
    void anEstimateNotRefreshedForAWhileGivesWayToItsNeighbours() {
        SpeculationCosts costs = new SpeculationCosts();
        costs.recordForward(2, 9_000_000); // two rows measured once, cold, then never chosen again
        for (int i = 0; i < 300; i++) {
            costs.recordForward(1, 3_000_000);
            costs.recordForward(3, 3_400_000);
        }
        assertEquals(3_200_000, costs.forwardNanos(2), 1.0, "interpolated between the counts measured lately");
        costs.recordForward(2, 3_300_000);
        assertEquals(3_300_000, costs.forwardNanos(2), 1.0, "measured anew, the old estimate is forgotten");
    }

    @Test
    void theControllerDraftsOnceWhereASecondRowIsFreeAndAThirdIsNot() {
        // A draft token at a tenth of a step, 60% accepted. On this table one draft is best, and gains 43%: two rows
        // cost what one does, a third costs half a step more. The least-squares line through the same points puts
        // a row at 31% of a step and sees a gain of 11%.
        SpeculationCosts costs = measured(SCREENED_MICROS, 20);
        for (int i = 0; i < 40; i++) costs.recordDraft("draft", 1, 83_000);
        int k = DraftLengthController.bestLength(0.6, costs.draftNanos("draft"), costs::forwardNanos, 1, 4);
        assertEquals(1, k);
        double bestValue = DraftLengthController.expectedTokens(0.6, 1) / (costs.draftNanos("draft") + costs.forwardNanos(2));
        double none = 1 / costs.forwardNanos(1);
        assertTrue(bestValue > 1.3 * none, "one draft pays: " + bestValue / none);
    }

    @Test
    void draftTokensAreMeasuredOnProposalsWithoutALongCatchUp() {
        SpeculationCosts costs = new SpeculationCosts();
        for (int i = 0; i < 40; i++) costs.recordProposal("d", fed(4), 3, 300_000); // 3 drafts, 2 rows caught up on
        assertEquals(100_000, costs.draftNanos("d"), 1.0, "per drafted token");
        for (int i = 0; i < 40; i++) costs.recordProposal("d", fed(17), 1, 2_000_000); // 16 rows of history first
        assertEquals(100_000, costs.draftNanos("d"), 1.0, "a catch-up after a pause is not a draft token's cost");
        costs.recordProposal("d", fed(17), 1, 60_000);
        assertEquals(60_000, costs.draftNanos("d"), 1.0, "but one faster even with its catch-up bounds the cost from above");
        costs.recordProposal("lookup", fed(0), 3, 30_000);
        assertEquals(10_000, costs.draftNanos("lookup"), 1.0, "a proposer without a model: per token");

        SpeculationCosts noisy = new SpeculationCosts();
        noisy.recordDraft("d", 1, 5_000_000); // cold
        for (int i = 0; i < 200; i++) noisy.recordDraft("d", 1, i % 2 == 0 ? 100_000 : 300_000);
        double estimate = noisy.draftNanos("d");
        assertTrue(estimate > 100_000 && estimate < 300_000, "follows the samples, not their minimum: " + estimate);
    }

    @Test
    void aProposalsFirstDraftTokenIsMeasuredApartFromTheOthers() {
        // The cluster's step costs on a 2-core AVX2 host (rows nearly free), a coordinator's draft 0.8 ms for its
        // first token, cold, and 0.3 ms for each further one.
        SpeculationCosts costs = new SpeculationCosts();
        for (int i = 0; i < 20; i++) {
            for (int rows = 1; rows <= 9; rows++) costs.recordForward(rows, 4_300_000 + 140_000L * (rows - 1));
        }
        for (int i = 0; i < 40; i++) costs.recordProposal("draft", timed(3, 800_000), 1, 800_000);
        for (int i = 0; i < 40; i++) costs.recordProposal("draft", timed(5, 800_000), 3, 1_400_000);
        assertEquals(800_000, costs.draftNanos("draft"), 1.0, "the first token");
        assertEquals(300_000, costs.followingDraftNanos("draft"), 1.0, "each further one");
        assertEquals(800_000 + 3 * 300_000, costs.draftNanos("draft", 4), 1.0);
        assertEquals(0, costs.draftNanos("draft", 0));
        int k = DraftLengthController.bestLength(0.7, n -> costs.draftNanos("draft", n), costs::forwardNanos, 1, 8);
        int linear = DraftLengthController.bestLength(0.7, costs.draftNanos("draft"), costs::forwardNanos, 1, 8);
        assertTrue(k >= 4 && k > linear, "drafts " + k + " where charging each token as the first drafted " + linear);

        costs.recordProposal("lookup", fed(0), 3, 30_000); // no first token measured: per token, as before
        assertEquals(10_000, costs.draftNanos("lookup"), 1.0);
        assertEquals(30_000, costs.draftNanos("lookup", 3), 1.0);
    }

    @Test
    void aNewVersionOfADraftStartsFromItsFamilysAcceptanceAndCost() {
        SpeculationCosts costs = new SpeculationCosts();
        for (int i = 0; i < 50; i++) costs.recordAcceptance("draft:animals@4", 4, 3); // 3 of 4 trials: 0.75
        for (int i = 0; i < 40; i++) costs.recordDraft("draft:animals@4", 1, 350_000);
        assertEquals(0.75, costs.acceptance("draft:animals@4"), 1e-9);
        assertEquals(0.75, costs.acceptance("draft:animals@5"), 1e-9, "a version published since: its family's");
        assertEquals(350_000, costs.draftNanos("draft:animals@5"), 1.0);
        assertEquals(SpeculationCosts.PRIOR_ACCEPTANCE, costs.acceptance("draft:space@1"), "another family: the prior");
        assertEquals(SpeculationCosts.PRIOR_ACCEPTANCE, costs.acceptance("ngram"), "an unversioned proposer: the prior");

        for (int i = 0; i < 5; i++) costs.recordAcceptance("draft:animals@5", 2, 0); // 0 of 1 trial each
        assertEquals(0.0, costs.acceptance("draft:animals@5"), 1e-9, "once measured, its own");
        assertEquals(0.75, costs.acceptance("draft:animals@4"), 1e-9, "the older version keeps its own");
        double family = costs.acceptance("draft:animals@6");
        assertTrue(family > 0.6 && family < 0.75, "the family follows all its versions' steps, decayed: " + family);

        DraftLengthController fresh = new DraftLengthController(8);
        // A 2-core cluster's costs: a step 1.4 ms, each extra row 0.45 ms, a draft token 0.35 ms. From the prior of one
        // half a new sequence would not draft; from the family's ~0.7 it does.
        for (int i = 0; i < 20; i++) for (int rows = 1; rows <= 9; rows++) costs.recordForward(rows, 1_400_000 + 450_000L * (rows - 1));
        assertEquals(0, DraftLengthController.bestLength(0.5, n -> costs.draftNanos("draft:animals@4", n), costs::forwardNanos, 1, 8));
        assertTrue(fresh.choose(costs, "draft:animals@7", 1) > 0, "a sequence starting on a just-published version drafts");
    }

    /** A model proposer whose last proposal fed {@code rows} rows and took {@code first} to its first draft token. */
    private static Proposer timed(int rows, long first) {
        return new Proposer() {
            @Override public String name() { return "p"; }
            @Override public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {}
            @Override public int lastRowsFed() { return rows; }
            @Override public long lastFirstDraftNanos() { return first; }
        };
    }

    /** A proposer whose last proposal ran {@code rows} rows through its model. */
    private static Proposer fed(int rows) {
        return new Proposer() {
            @Override public String name() { return "p"; }
            @Override public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {}
            @Override public int lastRowsFed() { return rows; }
        };
    }
}
