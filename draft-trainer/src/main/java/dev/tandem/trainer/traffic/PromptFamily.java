package dev.tandem.trainer.traffic;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A family of prompts with its own vocabulary, made from templates: every combination of an opening, a
 * character, a place and an event, shuffled deterministically by a seed. The traffic class of its
 * requests is the family's name.
 */
public record PromptFamily(String name, List<String> prompts) {

    public PromptFamily {
        prompts = List.copyOf(prompts);
        if (prompts.isEmpty()) throw new IllegalArgumentException("a prompt family needs prompts");
    }

    /** All combinations "opening character place, event" in a seeded order. */
    static PromptFamily fromTemplates(String name, List<String> openings, List<String> characters, List<String> places,
                                      List<String> events, long seed) {
        Set<String> all = new LinkedHashSet<>();
        for (String o : openings) {
            for (String c : characters) {
                for (String p : places) {
                    for (String e : events) all.add(o + " " + c + " " + p + ". " + e);
                }
            }
        }
        List<String> list = new ArrayList<>(all);
        java.util.Collections.shuffle(list, new Random(seed ^ name.hashCode()));
        return new PromptFamily(name, list);
    }
}
