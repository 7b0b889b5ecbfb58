package dev.tandem.engine.format;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelLoaderTest {

    @TempDir
    Path dir;

    @Test
    void llama2cModelTakesItsVocabularyFromTokenizerBin() {
        try (LoadedModel m = ModelLoader.load(RealModel.modelBin(), null)) {
            assertFalse(m.vocabulary().isPresent());
        }
        try (LoadedModel m = ModelLoader.load(RealModel.modelBin(), RealModel.tokenizerBin())) {
            assertEquals(32000, m.vocabulary().orElseThrow().size());
            assertEquals("<0x0A>", m.vocabulary().orElseThrow().pieces().get(13));
        }
        assertEquals(ModelLoader.Format.LLAMA2C, ModelLoader.detect(RealModel.modelBin()));
    }

    @Test
    void ggufKeepsItsOwnVocabulary() throws IOException {
        Path out = dir.resolve("tiny.gguf");
        try (LoadedModel tiny = TinyModel.create()) {
            ModelConverter.convert(tiny, null, out, TensorType.Q8_0);
        }
        assertEquals(ModelLoader.Format.GGUF, ModelLoader.detect(out));
        // a tokenizer.bin given for a GGUF file that has a vocabulary is not read (this one does not even exist)
        try (LoadedModel m = ModelLoader.load(out, dir.resolve("absent-tokenizer.bin"))) {
            assertEquals(" piece299", m.vocabulary().orElseThrow().pieces().get(299));
        }
    }

    @Test
    void missingAndTinyFiles() throws IOException {
        Path missing = dir.resolve("nope.gguf");
        assertEquals("model file not found: " + missing,
                assertThrows(ModelFormatException.class, () -> ModelLoader.load(missing, null)).getMessage());
        Path tiny = dir.resolve("three-bytes.bin");
        Files.write(tiny, new byte[]{'G', 'G', 'U'});
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(tiny, null));
        assertTrue(e.getMessage().contains(tiny.toString()), e.getMessage());
    }
}
