package dev.tandem.ops;

import dev.tandem.engine.model.OpenedModel;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The --model and --tokenizer flags, and opening what they name (fetching the default model if needed). */
public final class ModelOptions {

    @Option(names = {"-m", "--model"}, defaultValue = OpenedModel.DEFAULT_SPEC, paramLabel = "PATH|default",
            description = "A llama2.c .bin or a GGUF file, or 'default' for stories15M (fetched on first use). Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.bin for a llama2.c model (default: the one beside the model file).")
    Path tokenizer;

    OpenedModel open() {
        return OpenedModel.open(model, tokenizer, new CliProgress("model"));
    }
}
