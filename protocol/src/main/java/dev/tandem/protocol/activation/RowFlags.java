package dev.tandem.protocol.activation;

/**
 * Bits of the per-row {@code flags} column of an {@link ActivationBatch}. Bits 0-15 are defined
 * here; bits 16-31 are free for the worker module's own use.
 */
public final class RowFlags {

  /** No flag set. */
  public static final int NONE = 0;
  /** The last stage must produce output (logits/acceptance) for this row. */
  public static final int WANT_LOGITS = 1;
  /** The row is part of a prefill (prompt) rather than a decoding or verification step. */
  public static final int PREFILL = 1 << 1;
  /** The row is a draft token under verification. */
  public static final int DRAFT = 1 << 2;
  /** Distillation samples (top-k teacher logits) are wanted for this row. */
  public static final int RECORD_TEACHER = 1 << 3;

  private RowFlags() {
  }

  /** True when every bit of {@code flag} is set in {@code flags}. */
  public static boolean has(int flags, int flag) {
    return (flags & flag) == flag;
  }
}
