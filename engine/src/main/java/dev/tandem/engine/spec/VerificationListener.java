package dev.tandem.engine.spec;

import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;

/**
 * Observes verification in a {@link SpeculativeDecoder}: the target's logits at every position it verified
 * are right there, which is what online distillation records (the teacher never runs again). Called on the
 * decoder's thread; implementations must be quick (copy what they keep, never hold on to the arrays).
 */
public interface VerificationListener {

    /** A sequence was registered with its prompt (BOS included). */
    default void onStart(long seqId, int[] prompt) {}

    /** A sequence was registered with its prompt and the traffic class its request named ("" if none). */
    default void onStart(long seqId, int[] prompt, String trafficClass) {
        onStart(seqId, prompt);
    }

    /**
     * One step of one sequence was verified.
     *
     * @param history        the committed history, already extended by this step's tokens
     * @param firstPosition  the position predicted by the step's first row (the history's length before the step)
     * @param out            the target's output: rows {@code firstRow + i} for i < committedRows predict position
     *                       {@code firstPosition + i}. Each has its logits ({@link StageOutput#hasLogits}) when
     *                       {@link #verifiedRow} asked for them, else (a greedy row) only its token; its hidden state
     *                       is there either way, which {@link StageOutput#outputHead} turns into logits later.
     *                       Valid during the call only.
     * @param committedRows  rows whose context is committed: the accepted drafts plus one (row i predicts
     *                       position firstPosition + i, and the token committed there is {@code history.get(firstPosition + i)})
     * @param draft          the drafted tokens of this step (row i verified draft token i, for i < draft.count())
     * @param acceptedDrafts how many drafts were accepted (a draft at row acceptedDrafts, if any, was rejected)
     */
    void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                    int committedRows, Draft draft, int acceptedDrafts);

    /**
     * Whether {@link #onVerified} will read the logits of this sequence's next step. A greedy step whose logits
     * nobody reads needs only each row's argmax, which the target finds without the whole output head.
     */
    default boolean readsLogits(long seqId) {
        return true;
    }

    /**
     * How much of a greedy step's logits {@link #onVerified} needs exactly: 0, every logit; k > 0, only the k
     * highest (with their ids and order), the others within the greedy screen's bound of theirs (see
     * {@link dev.tandem.engine.llama.RowOutput#TOP_LOGITS}), which spares the target the whole head product.
     */
    default int exactTopLogits() {
        return 0;
    }

    /**
     * What a verified row of this sequence asks of the target's head: a sampled sequence its whole logits; a greedy
     * one its greedy token when this listener does not read the step, else what {@link #exactTopLogits} says.
     */
    default RowOutput verifiedRow(long seqId, boolean greedy) {
        if (!greedy) return RowOutput.LOGITS;
        if (!readsLogits(seqId)) return RowOutput.GREEDY_TOKEN;
        return exactTopLogits() > 0 ? RowOutput.TOP_LOGITS : RowOutput.LOGITS;
    }

    /** The sequence is finished and forgotten by the decoder. */
    default void onRelease(long seqId) {}

    /** Observes nothing, and reads no logits. */
    VerificationListener NONE = new VerificationListener() {
        @Override
        public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                               int committedRows, Draft draft, int acceptedDrafts) {}

        @Override
        public boolean readsLogits(long seqId) { return false; }
    };

    /**
     * A listener that passes every call on to another; a subclass overrides what it observes and calls super (or
     * {@link #next}) to pass it on. Whether logits are read is the next listener's to say.
     */
    abstract class Forwarding implements VerificationListener {

        protected final VerificationListener next;

        protected Forwarding(VerificationListener next) {
            this.next = next == null ? NONE : next;
        }

        @Override
        public void onStart(long seqId, int[] prompt) {
            next.onStart(seqId, prompt);
        }

        @Override
        public void onStart(long seqId, int[] prompt, String trafficClass) {
            next.onStart(seqId, prompt, trafficClass);
        }

        @Override
        public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                               int committedRows, Draft draft, int acceptedDrafts) {
            next.onVerified(seqId, history, firstPosition, out, firstRow, committedRows, draft, acceptedDrafts);
        }

        @Override
        public boolean readsLogits(long seqId) {
            return next.readsLogits(seqId);
        }

        @Override
        public int exactTopLogits() {
            return next.exactTopLogits();
        }

        @Override
        public RowOutput verifiedRow(long seqId, boolean greedy) {
            return next.verifiedRow(seqId, greedy);
        }

        @Override
        public void onRelease(long seqId) {
            next.onRelease(seqId);
        }
    }
}
