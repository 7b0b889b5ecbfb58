package dev.tandem.coordinator.api;

import dev.tandem.engine.generate.FinishReason;

/** What a generation stream emits: text deltas, then exactly one {@link Finished}. */
public sealed interface GenerationEvent {

    /**
     * New output. {@code text} is always whole UTF-8 characters (bytes of a character split across
     * tokens are held until it is complete); {@code tokenIds} are the tokens that produced it.
     */
    record TextDelta(String text, int[] tokenIds) implements GenerationEvent {}

    /** The end of the stream, with why it ended and what it cost. */
    record Finished(FinishReason reason, Usage usage) implements GenerationEvent {}

    /**
     * Counts and timings of one request.
     *
     * @param promptTokens     prompt tokens (with BOS)
     * @param completionTokens generated tokens
     * @param timeToFirstTokenMs from accepting the request to the first generated token
     * @param totalMs          from accepting the request to its end
     * @param proposer         the speculation proposer used ("none" without speculation)
     * @param proposed         draft tokens proposed
     * @param accepted         draft tokens accepted
     * @param steps            pipeline steps (forward passes through every stage) after the prompt
     * @param rejected         draft tokens rejected (steps in which a draft was rejected; at most one per step)
     */
    record Usage(int promptTokens, int completionTokens, double timeToFirstTokenMs, double totalMs,
                 String proposer, long proposed, long accepted, long steps, long rejected) {}
}
