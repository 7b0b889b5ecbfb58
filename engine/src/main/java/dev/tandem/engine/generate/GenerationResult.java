package dev.tandem.engine.generate;

/**
 * The outcome of a generation.
 *
 * @param promptTokens  the prompt's token ids (with BOS)
 * @param tokens        the generated token ids (all sampled tokens, including one that ended the run)
 * @param text          the generated text as emitted (without the prompt, without a stop string)
 * @param finishReason  why it ended
 * @param prefillNanos  time to run the prompt (time to first token)
 * @param decodeNanos   time for the rest
 */
public record GenerationResult(int[] promptTokens, int[] tokens, byte[] text, FinishReason finishReason,
                               long prefillNanos, long decodeNanos) {

    public String textAsString() { return new String(text, java.nio.charset.StandardCharsets.UTF_8); }

    /** Decode speed over the tokens after the first, or 0 when there were none. */
    public double decodeTokensPerSecond() {
        return tokens.length <= 1 || decodeNanos == 0 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
    }
}
