package dev.tandem.trainer.traffic;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prompts for benchmarks and the demo: three built-in families with different vocabularies (animals and
 * farms, space and robots, cooking and food), each of several hundred distinct templated prompts in a
 * seeded order, plus generic story openings ({@link #STORIES}, what a general bootstrap draft learns
 * from), or one's own prompts from a file. Requests are taken round-robin through a family's
 * prompts, so a stream of n requests repeats prompts only after the family is exhausted.
 */
public final class TrafficGenerator {

    public static final String ANIMALS = "animals";
    public static final String SPACE = "space";
    public static final String COOKING = "cooking";
    /** Generic story openings (the traffic the default model was trained for): a general bootstrap's prompts. */
    public static final String STORIES = "stories";
    private static final int STORY_PROMPTS = 180;
    /** The class of file prompts without a class column. */
    public static final String FILE_CLASS = "general";

    /** A prompt and its traffic class. */
    public record Request(String trafficClass, String prompt) {}

    private final Map<String, PromptFamily> families;
    private final Map<String, Integer> next = new LinkedHashMap<>();

    public TrafficGenerator(Map<String, PromptFamily> families) {
        this.families = new LinkedHashMap<>(families);
    }

    /** The three built-in families. */
    public static TrafficGenerator builtIn(long seed) {
        Map<String, PromptFamily> f = new LinkedHashMap<>();
        f.put(ANIMALS, PromptFamily.fromTemplates(ANIMALS,
                List.of("Once upon a time,", "One sunny morning,", "Every day,", "Long ago,"),
                List.of("a little pig", "a happy cow", "a brown horse", "a small duck", "a fluffy sheep", "a farmer's dog",
                        "a young goat", "a red hen", "a tiny chick", "a kind farmer"),
                List.of("lived on a big farm", "played in the barn", "walked to the green field", "slept near the pond",
                        "ran around the haystack", "ate hay by the fence"),
                List.of("The animals were friends.", "It wanted to find some corn.", "The farmer fed them apples.",
                        "One day it met a lost lamb."),
                seed));
        f.put(SPACE, PromptFamily.fromTemplates(SPACE,
                List.of("Once upon a time,", "One night,", "Far away in space,", "A long time ago,"),
                List.of("a shiny robot", "a brave astronaut", "a little alien", "a smart computer", "a silver rocket",
                        "a robot named Bolt", "a space girl", "a moon rover", "a tiny satellite", "a star pilot"),
                List.of("flew to the moon", "lived on a space station", "landed on a red planet", "looked at the stars",
                        "zoomed past a comet", "fixed the spaceship"),
                List.of("The robot beeped happily.", "It wanted to visit Mars.", "The stars were very bright.",
                        "One day it found a strange rock."),
                seed));
        f.put(COOKING, PromptFamily.fromTemplates(COOKING,
                List.of("Once upon a time,", "One morning,", "On a rainy day,", "Every Sunday,"),
                List.of("a little chef", "mom", "a hungry boy", "a girl named Lily", "grandma", "a baker",
                        "a cook named Sam", "dad", "a busy waiter", "a young cook"),
                List.of("made soup in the kitchen", "baked a big cake", "cooked pasta for dinner", "cut fresh vegetables",
                        "mixed flour and eggs", "made pancakes for breakfast"),
                List.of("The food smelled yummy.", "They added sugar and butter.", "Everyone was very hungry.",
                        "The oven was hot."),
                seed));
        List<String> stories = new ArrayList<>(dev.tandem.engine.bench.StoryPrompts.make(STORY_PROMPTS));
        java.util.Collections.shuffle(stories, new java.util.Random(seed));
        f.put(STORIES, new PromptFamily(STORIES, stories));
        return new TrafficGenerator(f);
    }

    /**
     * Prompts from a file: one per line, either {@code prompt} (class {@link #FILE_CLASS}) or
     * {@code class<TAB>prompt}; blank lines and lines starting with '#' are skipped.
     */
    public static TrafficGenerator fromFile(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read traffic file " + file + ": " + e.getMessage(), e);
        }
        Map<String, List<String>> byClass = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.isBlank() || line.startsWith("#")) continue;
            int tab = line.indexOf('\t');
            String cls = tab < 0 ? FILE_CLASS : line.substring(0, tab).trim();
            String prompt = (tab < 0 ? line : line.substring(tab + 1)).trim();
            if (cls.isEmpty() || prompt.isEmpty()) throw new IllegalArgumentException("traffic file " + file + ": bad line '" + line + "'");
            byClass.computeIfAbsent(cls, k -> new ArrayList<>()).add(prompt);
        }
        if (byClass.isEmpty()) throw new IllegalArgumentException("traffic file " + file + " has no prompts");
        Map<String, PromptFamily> f = new LinkedHashMap<>();
        byClass.forEach((cls, prompts) -> f.put(cls, new PromptFamily(cls, prompts)));
        return new TrafficGenerator(f);
    }

    public List<String> familyNames() { return List.copyOf(families.keySet()); }

    public PromptFamily family(String name) {
        PromptFamily f = families.get(name);
        if (f == null) throw new IllegalArgumentException("no prompt family '" + name + "' (have " + families.keySet() + ")");
        return f;
    }

    /** The next request of a family (round-robin over its prompts). */
    public synchronized Request next(String family) {
        PromptFamily f = family(family);
        int i = next.merge(family, 1, Integer::sum) - 1;
        return new Request(family, f.prompts().get(i % f.prompts().size()));
    }

    /** n requests of a family. */
    public List<Request> take(String family, int n) {
        List<Request> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(next(family));
        return out;
    }

    /** n requests cycling through every family in turn. */
    public List<Request> mixed(int n) {
        List<String> names = familyNames();
        List<Request> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(next(names.get(i % names.size())));
        return out;
    }
}
