package dev.tandem.engine.format;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tokenizer.Llama2cVocabularyReader;
import dev.tandem.engine.tokenizer.Vocabulary;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Opens a model file of either format, told apart by its first four bytes: GGUF files start with
 * the magic "GGUF" and carry their vocabulary; anything else is read as a llama2.c checkpoint,
 * whose vocabulary comes from a separate llama2.c {@code tokenizer.bin}.
 */
public final class ModelLoader {

    public enum Format { GGUF, LLAMA2C }

    private ModelLoader() {}

    /**
     * Loads {@code model}. For llama2.c files, {@code tokenizerOrNull} (when given) supplies the
     * vocabulary; for GGUF files it is used only when the file has no vocabulary of its own.
     */
    public static LoadedModel load(Path model, Path tokenizerOrNull) {
        LoadedModel loaded = switch (detect(model)) {
            case GGUF -> GgufModelLoader.load(model);
            case LLAMA2C -> Llama2cModelLoader.load(model);
        };
        if (loaded.vocabulary().isPresent() || tokenizerOrNull == null) return loaded;
        try {
            Vocabulary vocab = Llama2cVocabularyReader.read(tokenizerOrNull, loaded.config().vocabSize());
            return new LoadedModel(loaded.source(), loaded.weights(), Optional.of(vocab), loaded.arena());
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    /** The format of {@code model}, from its magic number. */
    public static Format detect(Path model) {
        try (InputStream in = Files.newInputStream(model)) {
            byte[] head = in.readNBytes(Integer.BYTES);
            boolean gguf = head.length == Integer.BYTES
                    && ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getInt() == GgufFile.MAGIC;
            return gguf ? Format.GGUF : Format.LLAMA2C;
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("model file not found: " + model);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read model file " + model + ": " + e.getMessage(), e);
        }
    }
}
