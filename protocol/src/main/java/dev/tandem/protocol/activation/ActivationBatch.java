package dev.tandem.protocol.activation;

import java.util.Arrays;
import java.util.Objects;

/**
 * Hidden states of a batch of token positions, one row per position, as they travel from one
 * pipeline stage to the next. Row {@code i} belongs to sequence {@code seqIds[i]} at token position
 * {@code positions[i]}; its hidden vector is {@code hidden[i * dim, (i + 1) * dim)}.
 *
 * <p>The arrays are taken over, not copied (batches are large and built once): do not modify them
 * after construction. {@link #equals} compares contents bit for bit (NaN payloads and signed zeros
 * included), because a transport must not change a single bit of an activation.
 *
 * @param route    routing information (e.g. model name plus pipeline/route id); may be empty
 * @param stepId   scheduler step this batch belongs to
 * @param dim      hidden dimension, {@code > 0}
 * @param seqIds   sequence id per row
 * @param positions token position per row, {@code >= 0}
 * @param flags    per-row bit flags, see {@link RowFlags}
 * @param hidden   row-major hidden states, {@code rows * dim} floats
 */
public record ActivationBatch(
    String route, long stepId, int dim, long[] seqIds, int[] positions, int[] flags, float[] hidden)
    implements ActivationMessage {

  public ActivationBatch {
    Objects.requireNonNull(route, "route");
    Objects.requireNonNull(seqIds, "seqIds");
    Objects.requireNonNull(positions, "positions");
    Objects.requireNonNull(flags, "flags");
    Objects.requireNonNull(hidden, "hidden");
    if (dim <= 0) {
      throw new IllegalArgumentException("dim must be > 0, was " + dim);
    }
    int rows = seqIds.length;
    if (positions.length != rows || flags.length != rows) {
      throw new IllegalArgumentException("column lengths differ: seqIds " + rows + ", positions "
          + positions.length + ", flags " + flags.length);
    }
    if ((long) rows * dim != hidden.length) {
      throw new IllegalArgumentException(
          "hidden has " + hidden.length + " floats, expected rows * dim = " + rows + " * " + dim);
    }
  }

  /** A batch whose rows carry no flags. */
  public static ActivationBatch of(String route, long stepId, int dim, long[] seqIds, int[] positions,
      float[] hidden) {
    return new ActivationBatch(route, stepId, dim, seqIds, positions, new int[seqIds.length], hidden);
  }

  /** Number of rows (token positions). */
  public int rows() {
    return seqIds.length;
  }

  /** Offset of row {@code row}'s hidden vector in {@link #hidden()}. */
  public int hiddenOffset(int row) {
    Objects.checkIndex(row, rows());
    return row * dim;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ActivationBatch that
        && stepId == that.stepId
        && dim == that.dim
        && route.equals(that.route)
        && Arrays.equals(seqIds, that.seqIds)
        && Arrays.equals(positions, that.positions)
        && Arrays.equals(flags, that.flags)
        && sameBits(hidden, that.hidden);
  }

  private static boolean sameBits(float[] a, float[] b) {
    if (a.length != b.length) {
      return false;
    }
    for (int i = 0; i < a.length; i++) {
      if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    int h = Objects.hash(route, stepId, dim);
    h = 31 * h + Arrays.hashCode(seqIds);
    h = 31 * h + Arrays.hashCode(positions);
    h = 31 * h + Arrays.hashCode(flags);
    for (float v : hidden) {
      h = 31 * h + Float.floatToRawIntBits(v);
    }
    return h;
  }

  @Override
  public String toString() {
    return "ActivationBatch[route=" + route + ", stepId=" + stepId + ", rows=" + rows() + ", dim=" + dim + "]";
  }
}
