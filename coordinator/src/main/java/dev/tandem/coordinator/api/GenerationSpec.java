package dev.tandem.coordinator.api;

import dev.tandem.engine.sampling.SamplerSettings;

import java.util.List;

/**
 * One validated generation request (the gateway has checked ranges and UTF-8 already; the backend
 * still checks what only it knows, such as the prompt's length in tokens against the context).
 *
 * @param model         model name ("default" for the default model)
 * @param prompt        prompt text, not empty
 * @param maxNewTokens  most tokens to generate, positive
 * @param sampling      temperature 0 = greedy
 * @param stopStrings   end before any of these appears in the output
 * @param speculate     proposer name (none|ngram|draft|layerskip|auto); "" = the server's default
 * @param trafficClass  traffic class tag for the draft trainer; "" = classify automatically
 */
public record GenerationSpec(String model, String prompt, int maxNewTokens, SamplerSettings sampling,
                             List<String> stopStrings, String speculate, String trafficClass) {

    public GenerationSpec {
        stopStrings = List.copyOf(stopStrings);
    }
}
