package dev.tandem.engine.spec;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutoProposerTest {

    /** Proposes k copies of one token; the test decides what gets accepted. */
    record Fixed(String name) implements Proposer {
        @Override
        public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
            for (int i = 0; i < maxDrafts; i++) draft.addCertain(7);
        }
    }

    private static Map<String, Integer> run(AutoProposer auto, Map<String, Integer> acceptedBy, int steps) {
        TokenHistory history = new TokenHistory(new int[]{1, 2, 3}, 16);
        Draft draft = new Draft(4, 10);
        Map<String, Integer> uses = new HashMap<>();
        for (int s = 0; s < steps; s++) {
            draft.clear();
            auto.propose(history, 4, false, draft);
            String used = auto.currentName();
            uses.merge(used, 1, Integer::sum);
            int accepted = acceptedBy.get(used);
            auto.observe(history, accepted, accepted + 1);
        }
        return uses;
    }

    @Test
    void exploresEachThenExploitsTheBestAndRetriesTheOthersLessAndLess() {
        AutoProposer auto = new AutoProposer(List.of(new Fixed("bad"), new Fixed("good"), new Fixed("worse")), new SpeculationCosts());
        Map<String, Integer> uses = run(auto, Map.of("bad", 1, "good", 3, "worse", 0), 600);
        assertEquals("good", auto.currentName());
        assertTrue(uses.get("good") > 560, uses.toString());
        // 3 exploration steps each, then retries at growing intervals (24, 48, 96, ...): only a handful.
        assertTrue(uses.get("bad") <= AutoProposer.EXPLORE_STEPS + 6, uses.toString());
        assertTrue(uses.get("worse") <= AutoProposer.EXPLORE_STEPS + 6, uses.toString());
    }

    @Test
    void followsAChangeInWhichCandidateIsBest() {
        AutoProposer auto = new AutoProposer(List.of(new Fixed("a"), new Fixed("b")), new SpeculationCosts());
        run(auto, Map.of("a", 3, "b", 0), 100);
        assertEquals("a", auto.currentName());
        Map<String, Integer> later = run(auto, Map.of("a", 0, "b", 3), 800);
        assertEquals("b", auto.currentName());
        assertTrue(later.get("b") > 600, later.toString());
    }
}
