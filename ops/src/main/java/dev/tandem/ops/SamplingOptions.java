package dev.tandem.ops;

import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.sampling.SamplerSettings;
import picocli.CommandLine.Option;

import java.util.List;

/** Sampling flags shared by the commands that generate; defaults follow llama2.c's run.c. */
public final class SamplingOptions {

    @Option(names = {"-n", "--max-tokens"}, defaultValue = "256",
            description = "Most new tokens to generate (the model's context also bounds it). Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = {"-t", "--temperature"}, defaultValue = "1.0",
            description = "Sampling temperature; 0 is greedy (deterministic). Default: ${DEFAULT-VALUE}.")
    float temperature;

    @Option(names = "--top-p", defaultValue = "0.9", description = "Nucleus sampling threshold in (0, 1]. Default: ${DEFAULT-VALUE}.")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 = off. Default: ${DEFAULT-VALUE}.")
    int topK;

    @Option(names = {"-s", "--seed"}, description = "Random seed; the same seed reproduces a run exactly. Default: from the clock.")
    Long seed;

    public SamplerSettings settings() {
        long s = seed != null ? seed : System.nanoTime();
        try {
            return new SamplerSettings(temperature, topK, topP, s);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage(e.getMessage());
        }
    }

    public GenerationRequest request(String prompt, List<String> stop) {
        if (prompt == null || prompt.isEmpty()) throw CommandFailure.usage("the prompt is empty: pass some text with --prompt");
        if (maxTokens <= 0) throw CommandFailure.usage("--max-tokens must be positive, got " + maxTokens);
        try {
            return new GenerationRequest(prompt, maxTokens, settings(), stop);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage(e.getMessage());
        }
    }
}
