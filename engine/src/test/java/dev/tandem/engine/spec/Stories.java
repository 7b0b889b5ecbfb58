package dev.tandem.engine.spec;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.WeightsMemory;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The real stories15M model (fetched first when missing) and varied story prompts for the speculation tests. */
final class Stories {

    /** Reduced vocabulary of the test draft: the first ids (special, bytes, the most frequent merges). */
    static final int DRAFT_HEAD_TOKENS = 4096;

    private static final String[] OPENERS = {"Once upon a time", "One day", "In a small town", "Long ago", "Every morning",
            "It was a sunny day and", "At the park", "Tom had a red ball.", "The little dog", "Mom said"};
    private static final String[] SUBJECTS = {"a little girl named Lily", "a big brown bear", "two friends, Ben and Mia",
            "a tiny blue bird", "an old man with a hat"};

    private Stories() {}

    static LoadedModel load() {
        Path dir = ModelStore.ensureDefault(ProgressListener.NONE);
        // Placed as a whole-model process places it by default (huge pages where the host has them).
        return Llama2cModelLoader.load(dir.resolve("model.bin")).placed(WeightsMemory.HUGE_PAGES);
    }

    static Tokenizer tokenizer(LoadedModel model) {
        Path dir = ModelStore.ensureDefault(ProgressListener.NONE);
        return BpeTokenizer.fromLlama2c(dir.resolve("tokenizer.bin"), model.config().vocabSize());
    }

    /** {@code n} distinct prompts: openers and subjects combined, some with repetition that n-grams can exploit. */
    static List<String> prompts(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; out.size() < n; i++) {
            String opener = OPENERS[i % OPENERS.length];
            String subject = SUBJECTS[(i / OPENERS.length) % SUBJECTS.length];
            String p = switch (i % 4) {
                case 0 -> opener;
                case 1 -> opener + ", there was " + subject + ".";
                case 2 -> opener + " " + subject + " went outside. " + subject + " saw";
                default -> subject.substring(0, 1).toUpperCase() + subject.substring(1) + " liked to play. " + opener + ",";
            };
            if (!out.contains(p)) out.add(p);
        }
        return out;
    }

    /** A valid draft cut from the target: its first layers and a head over the first ids (some drafts get accepted). */
    static DraftModel draftFromTarget(LoadedModel model, int layers) {
        return DraftModel.fromTarget(model.weights(), layers, ReducedVocabulary.firstTokens(DRAFT_HEAD_TOKENS, model.config().vocabSize()));
    }
}
