package dev.tandem.ops;

import java.util.List;

/** Different story openings for concurrent streams (benchmarks). */
final class ClusterPrompts {

    private static final List<String> SUBJECTS = List.of("a cat", "a dog", "Tom", "Sue", "a bird", "a fish", "Max",
            "Anna", "a frog", "Ben", "a little boy", "a big bear", "Mia", "a duck", "the sun", "an old tree");

    private ClusterPrompts() {}

    /** The i-th prompt; they differ for i < 16 and repeat after. */
    static String prompt(int i) {
        String subject = SUBJECTS.get(i % SUBJECTS.size());
        return "Once upon a time, " + subject + (i % 2 == 0 ? " wanted to" : " saw");
    }
}
