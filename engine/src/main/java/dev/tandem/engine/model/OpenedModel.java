package dev.tandem.engine.model;

import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.engine.tokenizer.Llama2cVocabularyReader;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model ready to run: its memory-mapped weights and its tokenizer. Opened from a model spec:
 * {@code default} (the stories15M model, fetched on first use) or a path to a llama2.c {@code .bin}
 * (with {@code tokenizer.bin} beside it unless another is given) or a GGUF file (tokenizer inside).
 */
public record OpenedModel(String name, LoadedModel model, Tokenizer tokenizer) implements AutoCloseable {

    public static final String DEFAULT_SPEC = "default";

    public static OpenedModel open(String spec, Path tokenizerOverride, ProgressListener progress) {
        if (spec == null || spec.isBlank() || spec.equals(DEFAULT_SPEC)) {
            Path dir = ModelStore.ensureDefault(progress);
            return open(TandemHome.DEFAULT_MODEL, dir.resolve(ModelStore.MODEL_FILE),
                    tokenizerOverride != null ? tokenizerOverride : dir.resolve(ModelStore.TOKENIZER_FILE));
        }
        Path file = Path.of(spec);
        String name = file.getFileName().toString().replaceFirst("\\.(bin|gguf)$", "");
        return open(name, file, tokenizerOverride);
    }

    private static OpenedModel open(String name, Path file, Path tokenizerFile) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException("model file not found: " + file);
        LoadedModel model = Llama2cModelLoader.load(file);
        try {
            Path tok = tokenizerFile != null ? tokenizerFile : file.resolveSibling(ModelStore.TOKENIZER_FILE);
            if (!Files.isRegularFile(tok)) {
                throw new ModelFormatException("tokenizer not found: " + tok + " (a llama2.c model needs its tokenizer.bin; pass it with --tokenizer)");
            }
            Tokenizer tokenizer = new BpeTokenizer(Llama2cVocabularyReader.read(tok, model.config().vocabSize()));
            return new OpenedModel(name, model, tokenizer);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    public ModelConfig config() { return model.config(); }

    @Override
    public void close() {
        model.close();
    }
}
