package dev.tandem.engine.format;

import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.TandemHome;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** The downloaded stories15M (tests that need it are skipped when it is absent). */
final class RealModel {

    private RealModel() {}

    static Path modelBin() {
        Path p = TandemHome.defaultModelDir().resolve("model.bin");
        Assumptions.assumeTrue(Files.exists(p), "stories15M is not downloaded at " + p);
        return p;
    }

    static Path tokenizerBin() {
        Path p = TandemHome.defaultModelDir().resolve("tokenizer.bin");
        Assumptions.assumeTrue(Files.exists(p), "tokenizer.bin is not downloaded at " + p);
        return p;
    }

    /** stories15M with its llama2.c vocabulary. */
    static LoadedModel load() {
        return ModelLoader.load(modelBin(), tokenizerBin());
    }
}
