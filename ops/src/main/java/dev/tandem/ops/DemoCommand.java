package dev.tandem.ops;

import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;

/** The main job on the default model: a few stories generated and streamed with live statistics. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Generate a few stories on the default model and show how fast they stream.",
                "Fetches the default model on first use."})
public final class DemoCommand implements Callable<Integer> {

    private static final List<String> PROMPTS = List.of(
            "Once upon a time",
            "Lily and Ben went to the park",
            "The little robot wanted to fly");

    @Mixin
    ModelOptions model;

    @Option(names = "--max-tokens", defaultValue = "200", description = "New tokens per story. Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Override
    public Integer call() {
        if (maxTokens <= 0) throw CommandFailure.usage("--max-tokens must be positive, got " + maxTokens);
        PrintStream out = System.out;
        try (OpenedModel opened = model.open(); ParallelRunner runner = new ParallelRunner()) {
            LocalGenerator generator = new LocalGenerator(opened.model().weights(), opened.tokenizer(), runner);
            out.printf("Tandem demo: %s, %d layers, dim %d, %d threads, greedy decoding in this process%n%n",
                    opened.name(), opened.config().nLayers(), opened.config().dim(), runner.threads());
            for (String prompt : PROMPTS) {
                GenerationResult r = generator.generate(GenerationRequest.greedy(prompt, maxTokens), new GenerationListener() {
                    @Override
                    public void onPrompt(byte[] text) { out.write(text, 0, text.length); out.flush(); }

                    @Override
                    public void onText(byte[] text, int tokenId) { out.write(text, 0, text.length); out.flush(); }
                });
                out.println();
                Statistics.printGeneration(out, r);
                out.println();
            }
        }
        return 0;
    }
}
