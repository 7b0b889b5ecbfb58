package dev.tandem.engine.bench;

import java.util.ArrayList;
import java.util.List;

/** Story-opening prompts made from templates: the traffic stories15M was trained for. */
public final class StoryPrompts {

    private static final String[] OPENERS = {"Once upon a time", "One day", "In a small town", "Long ago", "Every morning",
            "It was a sunny day and", "At the park", "The little dog", "Mom said", "After school"};
    private static final String[] SUBJECTS = {"a little girl named Lily", "a big brown bear", "two friends, Ben and Mia",
            "a tiny blue bird", "an old man with a hat", "a boy named Tim"};

    private StoryPrompts() {}

    /** {@code n} distinct prompts (at most {@code OPENERS x SUBJECTS x 3}). */
    public static List<String> make(int n) {
        List<String> out = new ArrayList<>();
        int limit = OPENERS.length * SUBJECTS.length * 3;
        for (int i = 0; out.size() < n && i < limit; i++) {
            String opener = OPENERS[i % OPENERS.length];
            String subject = SUBJECTS[(i / OPENERS.length) % SUBJECTS.length];
            String p = switch ((i / (OPENERS.length * SUBJECTS.length)) % 3) {
                case 0 -> opener + ", there was " + subject + ".";
                case 1 -> opener + " " + subject + " went outside to play.";
                default -> opener + ", " + subject + " found something strange.";
            };
            if (!out.contains(p)) out.add(p);
        }
        if (out.size() < n) throw new IllegalArgumentException("at most " + out.size() + " distinct prompts");
        return out;
    }
}
