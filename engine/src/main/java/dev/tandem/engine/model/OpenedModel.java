package dev.tandem.engine.model;

import dev.tandem.engine.format.ModelLoader;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model ready to run: its weights (memory-mapped, and for a whole-model process placed where
 * {@code tandem.engine.weights-memory} says) and its tokenizer. Opened from a model spec:
 * {@code default} (the stories15M model, fetched on first use) or a path to a llama2.c {@code .bin}
 * (with {@code tokenizer.bin} beside it unless another is given) or a GGUF file (tokenizer inside).
 */
public record OpenedModel(String name, LoadedModel model, Tokenizer tokenizer) implements AutoCloseable {

    public static final String DEFAULT_SPEC = "default";

    /** Opens the model for running all its layers here, its weights placed as this JVM's {@link EngineSettings} say. */
    public static OpenedModel open(String spec, Path tokenizerOverride, ProgressListener progress) {
        return open(spec, tokenizerOverride, progress, EngineSettings.load().weightsMemory());
    }

    /**
     * Opens the model with all its layers placed in {@code memory}. A process whose stages hold only some layers
     * opens it {@link WeightsMemory#MAPPED} and places each stage's layers itself ({@link ResidentWeights}).
     */
    public static OpenedModel open(String spec, Path tokenizerOverride, ProgressListener progress, WeightsMemory memory) {
        if (isDefault(spec)) {
            Path dir = ModelStore.ensureDefault(progress);
            return open(TandemHome.DEFAULT_MODEL, dir.resolve(ModelStore.MODEL_FILE),
                    tokenizerOverride != null ? tokenizerOverride : dir.resolve(ModelStore.TOKENIZER_FILE), memory);
        }
        Path file = Path.of(spec);
        String name = file.getFileName().toString().replaceFirst("\\.(bin|gguf)$", "");
        return open(name, file, tokenizerOverride, memory);
    }

    public static boolean isDefault(String spec) {
        return spec == null || spec.isBlank() || spec.equals(DEFAULT_SPEC);
    }

    private static OpenedModel open(String name, Path file, Path tokenizerFile, WeightsMemory memory) {
        Path tokenizer = tokenizerFile;
        if (tokenizer == null && ModelLoader.detect(file) == ModelLoader.Format.LLAMA2C) {
            tokenizer = file.resolveSibling(ModelStore.TOKENIZER_FILE);
            if (!Files.isRegularFile(tokenizer)) {
                throw new ModelFormatException("tokenizer not found: " + tokenizer
                        + " (a llama2.c model needs its tokenizer.bin; pass it with --tokenizer)");
            }
        }
        LoadedModel model = ModelLoader.load(file, tokenizer);
        if (model.vocabulary().isEmpty()) {
            model.close();
            throw new ModelFormatException(file + " carries no tokenizer; pass a tokenizer.bin with --tokenizer");
        }
        try {
            model = model.placed(memory);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return new OpenedModel(name, model, new BpeTokenizer(model.vocabulary().get()));
    }

    public ModelConfig config() { return model.config(); }

    @Override
    public void close() {
        model.close();
    }
}
