package dev.tandem.engine.spec;

/**
 * Guesses the next tokens of ONE sequence, cheaply, so that the target can verify several in one forward.
 * Created per sequence by a {@link ProposerFactory}; not thread-safe. The owner of the sequence calls
 * {@link #propose} before each verification and {@link #observe} after it, with the history already
 * extended by the accepted tokens. Stateful proposers (their own KV cache) resynchronize from the history:
 * whatever they cached beyond the common prefix with it (rejected drafts) is truncated.
 *
 * <p>Any proposer keeps decoding lossless: the acceptance test decides what is output.
 */
public interface Proposer extends AutoCloseable {

    /** The proposer kind, as named on the command line ({@code ngram}, {@code draft}, ...). */
    String name();

    /**
     * Drafts up to {@code maxDrafts} tokens that continue {@code history} into {@code draft} (cleared by the
     * caller). When {@code withProbabilities} is set (the target samples), each token must be drawn from
     * a distribution q that is recorded with it ({@link Draft#addSampled}) or be certain
     * ({@link Draft#addCertain}, q one-hot). May draft fewer, or none.
     */
    void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft);

    /**
     * After verification: {@code history} now ends with the {@code appended} tokens of this step, the first
     * {@code acceptedDrafts} of which were drafts of the last proposal (the last one is the target's own).
     */
    default void observe(TokenHistory history, int acceptedDrafts, int appended) {}

    /**
     * Rows the last {@link #propose} ran through a model: the history it had to catch up on plus one per further
     * draft; 0 for a proposer without a model (a table lookup). {@link SpeculationCosts#recordProposal} measures draft
     * tokens only on proposals without a long catch-up: a proposer that last drafted many steps ago first feeds
     * every token since, and charging that to the one token it drafts would make drafting look so expensive that
     * it is never tried again.
     */
    default int lastRowsFed() { return 0; }

    /**
     * Nanoseconds the last {@link #propose} took to its first draft token (its catch-up on the history included), or
     * -1 when not measured (a proposer without a model). A model's first forward after a target step is the dear one:
     * it feeds the history the step added and reads weights the step evicted from the caches; the further drafts of
     * the same proposal each cost a fraction of it (a one-layer draft of stories15M, one thread: ~0.6 ms cold against
     * 0.25 ms hot). {@link SpeculationCosts} keeps the two apart.
     */
    default long lastFirstDraftNanos() { return -1; }

    /** Frees per-sequence state (KV cache entries). */
    @Override
    default void close() {}
}
