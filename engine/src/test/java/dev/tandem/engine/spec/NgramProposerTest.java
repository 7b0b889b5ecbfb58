package dev.tandem.engine.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NgramProposerTest {

    private static int[] propose(int k, int... history) {
        Draft d = new Draft(8, 100);
        new NgramProposer().propose(new TokenHistory(history, 16), k, false, d);
        for (int i = 0; i < d.count(); i++) assertTrue(d.isOneHot(i));
        return d.tokensCopy();
    }

    @Test
    void proposesWhatFollowedTheLongestRecentMatch() {
        // "5 6 7" occurred before, followed by 8 9 10.
        assertArrayEquals(new int[]{8, 9, 10}, propose(3, 1, 5, 6, 7, 8, 9, 10, 11, 5, 6, 7));
        assertArrayEquals(new int[]{8}, propose(1, 1, 5, 6, 7, 8, 9, 10, 11, 5, 6, 7));
    }

    @Test
    void prefersTheLongerNgramOverAMoreRecentShorterOne() {
        // Last 3: "2 3 4". The trigram matched at the start (-> 50); "4" alone matched later (-> 60).
        assertArrayEquals(new int[]{50}, propose(1, 2, 3, 4, 50, 4, 60, 2, 3, 4));
    }

    @Test
    void aSharedTableProposesWhatFollowedTheSameContextInOtherSequences() {
        NgramTable table = new NgramTable(10);
        Draft d = new Draft(8, 100);
        // Sequence A commits "1 20 21 22 23 24"; sequence B then ends with "21 22": the table continues it.
        new NgramProposer(table).propose(new TokenHistory(new int[]{1, 20, 21, 22, 23, 24}, 16), 4, false, d);
        d.clear();
        new NgramProposer(table).propose(new TokenHistory(new int[]{1, 30, 21, 22}, 16), 3, false, d);
        assertArrayEquals(new int[]{23, 24}, d.tokensCopy(), "the chain stops where the traffic stopped");
        d.clear();
        new NgramProposer(table).propose(new TokenHistory(new int[]{1, 30, 31, 32}, 16), 3, false, d);
        assertEquals(0, d.count(), "an unseen context");
    }

    @Test
    void fallsBackToShorterNgramsAndStopsAtTheEndOfTheHistory() {
        assertArrayEquals(new int[]{9, 4}, propose(5, 1, 4, 9, 4), "unigram '4' matched; its continuation runs to the end");
        assertEquals(0, propose(4, 1, 2, 3).length, "no earlier occurrence of anything");
        assertEquals(0, propose(0, 1, 2, 1, 2).length, "k = 0");
    }
}
