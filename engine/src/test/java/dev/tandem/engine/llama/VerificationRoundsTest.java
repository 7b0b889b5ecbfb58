package dev.tandem.engine.llama;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.parallel.ParallelRunner;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Greedy rows that check expected tokens (a verification's drafts, {@link ForwardBatch#expectGreedyToken}) on
 * stories15M: every row up to and including a sequence's first mismatch gets the greedy token of the full logits,
 * and the rows the head leaves out come after that mismatch only, never before it.
 */
class VerificationRoundsTest {

    private static final int DRAFTS = 5;

    @Test
    void rowsUpToTheFirstMismatchGetTheirTokensAndLaterRowsMayBeSkipped() throws InterruptedException {
        try (LoadedModel model = Stories15M.load().placed(WeightsMemory.HUGE_PAGES); ParallelRunner runner = new ParallelRunner(2)) {
            LlamaStage stage = new LlamaStage(model.weights(), 0, model.config().nLayers(), runner, 16);
            stage.useGreedyScreen(true);
            assertTrue(GreedyHead.awaitWarm(Duration.ofSeconds(60)), "the screen's kernels warm up");
            ForwardBatch batch = new ForwardBatch(model.config().dim(), 16);
            // The greedy continuation of "Once upon a time", from the full logits.
            int length = Stories15M.ONCE_UPON_A_TIME.length;
            int[] history = new int[length + 40];
            System.arraycopy(Stories15M.ONCE_UPON_A_TIME, 0, history, 0, length);
            batch.clear();
            for (int i = 0; i < length; i++) batch.addToken(1, i, history[i], i == length - 1 ? RowOutput.LOGITS : RowOutput.HIDDEN);
            history[length] = stage.forward(batch).argmax(length - 1);
            for (int pos = length; pos < history.length - 1; pos++) {
                batch.clear();
                batch.addToken(1, pos, history[pos], RowOutput.LOGITS);
                history[pos + 1] = stage.forward(batch).argmax(0);
            }
            stage.cache().release(1);
            int skipped = 0;
            for (int start = length; start + DRAFTS + 1 < history.length; start += 5) {
                // Sequence 2 drafts the true continuation but for one wrong token at index wrong (DRAFTS: none wrong);
                // sequence 3, in the same batch, drafts it right throughout.
                for (int wrong = 0; wrong <= DRAFTS; wrong++) {
                    prefill(stage, batch, 2, history, start);
                    prefill(stage, batch, 3, history, start);
                    batch.clear();
                    int[] drafts = new int[DRAFTS];
                    for (int j = 0; j < DRAFTS; j++) drafts[j] = j == wrong ? (history[start + 1 + j] + 1) % 32000 : history[start + 1 + j];
                    int first2 = addVerification(batch, 2, start, history[start], drafts);
                    int[] right = new int[DRAFTS];
                    for (int j = 0; j < DRAFTS; j++) right[j] = history[start + 1 + j];
                    int first3 = addVerification(batch, 3, start, history[start], right);
                    StageOutput out = stage.forward(batch);
                    String where = "position " + start + ", wrong draft " + wrong;
                    // Row i predicts the token after draft i - 1: history[start + 1 + i] while the drafts so far were right.
                    for (int i = 0; i <= Math.min(wrong, DRAFTS); i++) {
                        assertTrue(out.hasGreedyToken(first2 + i), where + ": row " + i + " of the rejected sequence has its token");
                        assertEquals(history[start + 1 + i], out.argmax(first2 + i), where + ": row " + i);
                    }
                    for (int i = wrong + 1; i <= DRAFTS; i++) {
                        if (!out.hasGreedyToken(first2 + i)) skipped++;
                    }
                    for (int i = 0; i <= DRAFTS; i++) {
                        assertEquals(history[start + 1 + i], out.argmax(first3 + i), where + ": row " + i + " of the accepted sequence");
                    }
                    boolean firstRoundSettled = true; // a row the screen cannot settle keeps the later rows in play
                    for (int i = 0; i < LlamaStage.FIRST_ROUND_ROWS; i++) firstRoundSettled &= !out.hasLogits(first2 + i);
                    if (wrong < LlamaStage.FIRST_ROUND_ROWS && firstRoundSettled) {
                        // The mismatch came in the first round: the rest of the sequence gets no second round.
                        for (int i = LlamaStage.FIRST_ROUND_ROWS; i <= DRAFTS; i++) {
                            assertFalse(out.hasGreedyToken(first2 + i), where + ": row " + i + " after the first mismatch went through the head");
                        }
                    }
                    stage.cache().release(2);
                    stage.cache().release(3);
                }
            }
            assertTrue(skipped > 0, "no row after a mismatch was left out");
        }
    }

    @Test
    void onlyGreedyRowsCheckTokens() {
        ForwardBatch batch = new ForwardBatch(8, 4);
        batch.addToken(1, 0, 5, RowOutput.LOGITS);
        batch.addToken(1, 1, 6, RowOutput.GREEDY_TOKEN);
        assertThrows(IllegalArgumentException.class, () -> batch.expectGreedyToken(0, 7));
        assertThrows(IllegalArgumentException.class, () -> batch.expectGreedyToken(1, -3));
        assertThrows(IndexOutOfBoundsException.class, () -> batch.expectGreedyToken(2, 7));
        batch.expectGreedyToken(1, 7);
        assertEquals(7, batch.expectedToken(1));
        assertEquals(ForwardBatch.NO_EXPECTATION, batch.expectedToken(0));
        batch.clear();
        batch.addToken(1, 0, 5, RowOutput.GREEDY_TOKEN);
        assertEquals(ForwardBatch.NO_EXPECTATION, batch.expectedToken(0), "a new row expects nothing");
    }

    /** Caches positions [0, start) of the history for sequence seq. */
    private static void prefill(LlamaStage stage, ForwardBatch batch, long seq, int[] history, int start) {
        batch.clear();
        for (int i = 0; i < start; i++) batch.addToken(seq, i, history[i], RowOutput.HIDDEN);
        stage.forward(batch);
    }

    /** The last committed token and its drafts as greedy rows, each checking the draft after it; returns the first row. */
    private static int addVerification(ForwardBatch batch, long seq, int position, int last, int[] drafts) {
        int first = batch.addToken(seq, position, last, RowOutput.GREEDY_TOKEN);
        for (int j = 0; j < drafts.length; j++) batch.addToken(seq, position + 1 + j, drafts[j], RowOutput.GREEDY_TOKEN);
        for (int j = 0; j < drafts.length; j++) batch.expectGreedyToken(first + j, drafts[j]);
        return first;
    }
}
