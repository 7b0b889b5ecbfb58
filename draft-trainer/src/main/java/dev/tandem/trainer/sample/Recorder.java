package dev.tandem.trainer.sample;

/**
 * What serving tells the trainer, per sequence: the pipeline's last stage (or the in-process decoder)
 * calls {@link #verified} after each verification with the target logits it already has, and the owner
 * of the sequence calls {@link #end} with the committed tokens. Implementations sample (not every
 * sequence is recorded), bound their memory, and must be quick: they run on serving threads.
 */
public interface Recorder {

    /** A sequence starts, with its traffic class (a request's tag, or what a classifier said). */
    void begin(long seqId, String trafficClass);

    /**
     * Logit rows [0, committedRows) of one step, row i predicting position {@code firstPosition + i} from a
     * committed context; a draft token was rejected at row {@code acceptedDrafts} when it is < draftCount.
     */
    void verified(long seqId, int firstPosition, float[] logits, int logitsOffset, int vocab, int committedRows,
                  int draftCount, int acceptedDrafts);

    /** The sequence finished with these committed tokens (prompt included); a sample may be emitted. */
    void end(long seqId, int[] tokens);

    /** Drops whatever was pending for the sequence (cancelled, failed). */
    void abandon(long seqId);
}
