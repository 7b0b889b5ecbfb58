package dev.tandem.engine.generate;

/** Receives output as it is produced, as UTF-8 bytes (a multi-byte character may span two calls). */
public interface GenerationListener {

    /** The prompt as the tokenizer sees it (its tokens decoded back), once, before any output. */
    default void onPrompt(byte[] text) {}

    /** New output text; {@code tokenId} is the token that completed it, or -1 for text held back earlier. */
    void onText(byte[] text, int tokenId);

    /** Asked between steps; returning true ends the generation with {@link FinishReason#CANCELLED}. */
    default boolean cancelled() { return false; }

    GenerationListener NONE = (text, tokenId) -> {};
}
