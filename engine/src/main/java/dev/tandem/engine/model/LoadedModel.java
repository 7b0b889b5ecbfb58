package dev.tandem.engine.model;

import dev.tandem.engine.tokenizer.Vocabulary;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model whose weights are memory-mapped from {@code source}. Closing it unmaps the file, after
 * which its weights must not be touched. The vocabulary is present when the file carries one (GGUF).
 */
public record LoadedModel(Path source, ModelWeights weights, Optional<Vocabulary> vocabulary, Arena arena)
        implements AutoCloseable {

    public ModelConfig config() { return weights.config(); }

    @Override
    public void close() {
        arena.close();
    }
}
