package dev.tandem.engine.generate;

import dev.tandem.engine.sampling.SamplerSettings;

import java.util.List;

/**
 * What to generate.
 *
 * @param prompt        the prompt text (must not be empty)
 * @param maxNewTokens  the most tokens to generate after the prompt (positive); the model's context also bounds it
 * @param sampling      greedy when temperature is 0
 * @param stopStrings   generation ends before the first of these appears in the output
 */
public record GenerationRequest(String prompt, int maxNewTokens, SamplerSettings sampling, List<String> stopStrings) {

    public GenerationRequest {
        if (prompt == null || prompt.isEmpty()) throw new IllegalArgumentException("the prompt is empty");
        if (maxNewTokens <= 0) throw new IllegalArgumentException("max tokens must be positive, got " + maxNewTokens);
        stopStrings = List.copyOf(stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) throw new IllegalArgumentException("a stop string must not be empty");
        }
    }

    public static GenerationRequest greedy(String prompt, int maxNewTokens) {
        return new GenerationRequest(prompt, maxNewTokens, SamplerSettings.greedy(), List.of());
    }
}
