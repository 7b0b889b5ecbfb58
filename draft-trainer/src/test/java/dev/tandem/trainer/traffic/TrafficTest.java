package dev.tandem.trainer.traffic;

import dev.tandem.engine.draft.DraftModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrafficTest {

    @Test
    void threeFamiliesOfAtLeast200DistinctPromptsDeterministicBySeed() {
        TrafficGenerator g = TrafficGenerator.builtIn(7);
        assertEquals(List.of("animals", "space", "cooking", "stories"), g.familyNames());
        for (String f : List.of("animals", "space", "cooking")) {
            assertTrue(new HashSet<>(g.family(f).prompts()).size() >= 200, f);
        }
        assertEquals(TrafficGenerator.builtIn(7).take("space", 5), TrafficGenerator.builtIn(7).take("space", 5));
        assertTrue(!TrafficGenerator.builtIn(7).take("space", 5).equals(TrafficGenerator.builtIn(8).take("space", 5)));
    }

    @Test
    void trafficFileWithAndWithoutClasses(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.txt");
        Files.writeString(file, "# comment\nanimals\tThe cow said moo.\nA plain prompt.\n\nspace\tThe rocket flew.\n");
        TrafficGenerator g = TrafficGenerator.fromFile(file);
        assertEquals(List.of("animals", "general", "space"), g.familyNames());
        assertEquals("The rocket flew.", g.next("space").prompt());
    }

    @Test
    void naiveBayesLearnsClassesFromTaggedTraffic() {
        TrafficClassifier c = new TrafficClassifier(3, 0.9);
        assertEquals(DraftModel.GENERAL_CLASS, c.classify(new int[]{1, 2}));
        for (int i = 0; i < 5; i++) {
            c.learn(new int[]{1, 10 + i, 20, 21}, "animals");
            c.learn(new int[]{1, 30 + i, 40, 41}, "space");
        }
        assertEquals("animals", c.classify(new int[]{1, 20, 21, 99}));
        assertEquals("space", c.classify(new int[]{1, 41, 33}));
        assertEquals(DraftModel.GENERAL_CLASS, c.classify(new int[]{1, 20, 41}));
    }
}
