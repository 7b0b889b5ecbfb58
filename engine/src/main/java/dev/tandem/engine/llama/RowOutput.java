package dev.tandem.engine.llama;

/** What a row of a {@link ForwardBatch} wants from the last stage besides its hidden state. */
public enum RowOutput {
    /** Nothing: a prompt row before the last, or a row whose result nobody reads. */
    HIDDEN,
    /** The whole logits row, for sampling, acceptance tests that need probabilities, or recording. */
    LOGITS,
    /**
     * Only the greedy token (the float32 argmax of the logits, ties to the lowest id), which a last stage may find
     * without the whole head product ({@link GreedyHead}); its logits may be absent from the output.
     */
    GREEDY_TOKEN,
    /**
     * The greedy token and a logits row whose top k ({@link LlamaStage#screenTopK}) are the float32 logits exactly,
     * every other entry within the int8 screen's bound of its own and below the k-th (so the top k and their order
     * are those of the full row; a softmax normalizer over the row is within that bound). What online
     * distillation's recorder keeps of a greedy step, without the whole head product. Without a screen, the whole
     * row.
     */
    TOP_LOGITS;

    /** LOGITS when {@code logits}, else HIDDEN. */
    public static RowOutput of(boolean logits) {
        return logits ? LOGITS : HIDDEN;
    }

    /** Whether the row goes through the final norm and the head. */
    public boolean usesHead() {
        return this != HIDDEN;
    }
}
