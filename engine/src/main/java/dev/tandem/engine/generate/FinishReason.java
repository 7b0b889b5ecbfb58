package dev.tandem.engine.generate;

/** Why a generation ended. */
public enum FinishReason {
    /** The maximum number of new tokens, or the model's context, was reached. */
    LENGTH,
    /** A stop string appeared in the output (the stop string itself is not emitted). */
    STOP,
    /** The model emitted end-of-sequence (or, for llama2.c models, beginning-of-sequence). */
    EOS,
    /** The caller cancelled. */
    CANCELLED
}
