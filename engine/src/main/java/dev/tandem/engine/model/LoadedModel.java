package dev.tandem.engine.model;

import dev.tandem.engine.tokenizer.Vocabulary;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model whose weights are memory-mapped from {@code source}, or copied from it to memory the same arena owns
 * ({@link #placed}). Closing it unmaps the file and frees any copy, after which its weights must not be touched.
 * The vocabulary is present when the file carries one (GGUF).
 */
public record LoadedModel(Path source, ModelWeights weights, Optional<Vocabulary> vocabulary, Arena arena)
        implements AutoCloseable {

    public ModelConfig config() { return weights.config(); }

    /**
     * This model with all its layers placed where {@code memory} says (see {@link ResidentWeights}), for a process
     * that runs the whole model in one stage; the copy, if any, is freed with the model.
     */
    public LoadedModel placed(WeightsMemory memory) {
        ModelWeights w = ResidentWeights.place(weights, 0, config().nLayers(), memory, arena);
        return w == weights ? this : new LoadedModel(source, w, vocabulary, arena);
    }

    @Override
    public void close() {
        arena.close();
    }
}
