package dev.tandem.protocol.activation;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The fast path of {@link ArrowActivationCodec} for the small batches of a decode step (one row per sequence, or a
 * few drafts): canonical encodings per batch shape.
 *
 * <p>For a shape (route, dim, rows) the Arrow IPC stream that Arrow's own writer produces differs from batch to
 * batch only in the step id's digits (written zero-padded to {@value #STEP_ID_DIGITS}) and in the column data. So the
 * first batch of a shape has Arrow write three probes (step ids 0 and 1111111111111111111, data all zero bits and all
 * one bits), and their differences locate the step id and the four data regions in the stream. Encoding is then a
 * copy of the template with those regions written; decoding checks every other byte against the template (so only
 * streams byte-identical to Arrow's output, data aside, take this path) and reads the regions. Anything else (another
 * writer's stream, corrupted bytes, a negative position, an out-of-range step id, an unknown shape) returns
 * {@code null} and goes through Arrow's reader with its full validation and error messages.
 *
 * <p>Why: on a pipeline stage every step streams the stage's weights through the caches, so the next encode or decode
 * runs on a cold cache, where Arrow's writer and reader (allocators, vectors, flatbuffers, channels) took 150-200
 * µs each for one row against 10 µs hot; this path touches a few cache lines of code and the bytes themselves.
 */
final class ActivationTemplates {

  /** Digits of the zero-padded step id in the schema metadata (enough for every non-negative long). */
  static final int STEP_ID_DIGITS = 19;
  /** Largest column data kept as a template: the fixed cost matters for small batches only. */
  static final int MAX_TEMPLATE_BYTES = 256 << 10;
  /** Bytes of all templates held; past it the caches start over (shapes are few: routes x step sizes). */
  static final long MAX_CACHED_BYTES = 16L << 20;

  private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long STEP_ID_PROBE = 1111111111111111111L;
  private static final int COLUMNS = 4;

  /**
   * A shape's stream with {@code stepId} 0 and zero data, and where its variable regions lie; {@code bytes} is null
   * for a shape that has none (too large, or a layout this class does not recognize).
   */
  private record Template(Shape shape, byte[] bytes, int stepIdAt, int[] dataAt, int[] dataLength) {
  }

  private record Shape(String route, int dim, int rows) {
  }

  private final Function<ActivationBatch, byte[]> arrowWriter;
  private final Map<Shape, Template> byShape = new ConcurrentHashMap<>();
  private final Map<Integer, List<Template>> byLength = new ConcurrentHashMap<>();
  private final AtomicLong cachedBytes = new AtomicLong();

  /** @param arrowWriter the general encoder (Arrow's writer), used to build templates */
  ActivationTemplates(Function<ActivationBatch, byte[]> arrowWriter) {
    this.arrowWriter = arrowWriter;
  }

  /** The step id as the schema metadata holds it: zero-padded when non-negative, so a shape's streams align. */
  static String stepIdText(long stepId) {
    if (stepId < 0) {
      return Long.toString(stepId);
    }
    String digits = Long.toString(stepId);
    return "0".repeat(STEP_ID_DIGITS - digits.length()) + digits;
  }

  /** The encoding of {@code batch}, or {@code null} when its shape has no template (then Arrow's writer encodes). */
  byte[] encode(ActivationBatch batch) {
    if (!templated(batch)) {
      return null;
    }
    Template t = byShape.get(new Shape(batch.route(), batch.dim(), batch.rows()));
    if (t == null) {
      t = build(batch.route(), batch.dim(), batch.rows());
    }
    if (t.bytes == null) {
      return null;
    }
    byte[] out = t.bytes.clone();
    writeDigits(out, t.stepIdAt, batch.stepId());
    MemorySegment segment = MemorySegment.ofArray(out);
    int rows = batch.rows();
    MemorySegment.copy(batch.seqIds(), 0, segment, LONG_LE, t.dataAt[0], rows);
    MemorySegment.copy(batch.positions(), 0, segment, INT_LE, t.dataAt[1], rows);
    MemorySegment.copy(batch.flags(), 0, segment, INT_LE, t.dataAt[2], rows);
    MemorySegment.copy(batch.hidden(), 0, segment, FLOAT_LE, t.dataAt[3], batch.hidden().length);
    return out;
  }

  /**
   * The batch in {@code bytes[offset, offset + length)} if those bytes are a template's stream with other step id
   * digits and data, else {@code null}.
   */
  ActivationBatch decode(byte[] bytes, int offset, int length) {
    List<Template> candidates = byLength.get(length);
    if (candidates == null) {
      return null;
    }
    for (Template t : candidates) {
      if (matches(t, bytes, offset)) {
        return read(t, bytes, offset);
      }
    }
    return null;
  }

  /** Makes sure the shape of a batch decoded by Arrow's reader has a template, so its successors take this path. */
  void learn(ActivationBatch batch) {
    if (templated(batch) && !byShape.containsKey(new Shape(batch.route(), batch.dim(), batch.rows()))) {
      build(batch.route(), batch.dim(), batch.rows());
    }
  }

  /** Small batches with a non-negative step id: the ones whose fixed costs a template saves. */
  private static boolean templated(ActivationBatch batch) {
    return batch.stepId() >= 0 && batch.rows() > 0
        && ArrowActivationCodec.payloadBytes(batch.rows(), batch.dim()) <= MAX_TEMPLATE_BYTES;
  }

  private static boolean matches(Template t, byte[] bytes, int offset) {
    byte[] fixed = t.bytes;
    int from = 0;
    if (!Arrays.equals(fixed, from, t.stepIdAt, bytes, offset + from, offset + t.stepIdAt)) {
      return false;
    }
    from = t.stepIdAt + STEP_ID_DIGITS;
    for (int c = 0; c < COLUMNS; c++) {
      if (!Arrays.equals(fixed, from, t.dataAt[c], bytes, offset + from, offset + t.dataAt[c])) {
        return false;
      }
      from = t.dataAt[c] + t.dataLength[c];
    }
    return Arrays.equals(fixed, from, fixed.length, bytes, offset + from, offset + fixed.length);
  }

  private static ActivationBatch read(Template t, byte[] bytes, int offset) {
    long stepId = 0;
    for (int i = 0; i < STEP_ID_DIGITS; i++) {
      int digit = bytes[offset + t.stepIdAt + i] - '0';
      if (digit < 0 || digit > 9 || stepId > (Long.MAX_VALUE - digit) / 10) {
        return null; // not a step id Arrow's path would accept either: let it say why
      }
      stepId = stepId * 10 + digit;
    }
    int rows = t.shape.rows;
    int dim = t.shape.dim;
    MemorySegment segment = MemorySegment.ofArray(bytes);
    long[] seqIds = new long[rows];
    int[] positions = new int[rows];
    int[] flags = new int[rows];
    float[] hidden = new float[rows * dim];
    MemorySegment.copy(segment, LONG_LE, offset + (long) t.dataAt[0], seqIds, 0, rows);
    MemorySegment.copy(segment, INT_LE, offset + (long) t.dataAt[1], positions, 0, rows);
    MemorySegment.copy(segment, INT_LE, offset + (long) t.dataAt[2], flags, 0, rows);
    MemorySegment.copy(segment, FLOAT_LE, offset + (long) t.dataAt[3], hidden, 0, hidden.length);
    for (int p : positions) {
      if (p < 0) {
        return null;
      }
    }
    return new ActivationBatch(t.shape.route, stepId, dim, seqIds, positions, flags, hidden);
  }

  /** Builds and caches the template of a shape from three probes written by Arrow. */
  private Template build(String route, int dim, int rows) {
    Shape shape = new Shape(route, dim, rows);
    Template t = layout(shape);
    if (t.bytes == null) {
      byShape.putIfAbsent(shape, t);
      return t;
    }
    if (cachedBytes.addAndGet(t.bytes.length) > MAX_CACHED_BYTES) {
      byShape.clear();
      byLength.clear();
      cachedBytes.set(t.bytes.length);
    }
    if (byShape.putIfAbsent(shape, t) == null) {
      byLength.merge(t.bytes.length, List.of(t), ActivationTemplates::concat);
    }
    return t;
  }

  /** Where the step id and the columns lie in Arrow's stream for {@code shape}. */
  private Template layout(Shape shape) {
    int rows = shape.rows;
    int dim = shape.dim;
    Template none = new Template(shape, null, 0, null, null);
    byte[] zero = arrowWriter.apply(probe(shape, 0, false));
    byte[] otherStepId = arrowWriter.apply(probe(shape, STEP_ID_PROBE, false));
    byte[] ones = arrowWriter.apply(probe(shape, 0, true));
    int[][] stepRuns = differingRuns(zero, otherStepId);
    int[][] dataRuns = differingRuns(zero, ones);
    int[] expected = {rows * Long.BYTES, rows * Integer.BYTES, rows * Integer.BYTES, rows * dim * Float.BYTES};
    // Anything unexpected (another Arrow version's layout): no template, Arrow's writer and reader do the work.
    if (stepRuns == null || dataRuns == null || stepRuns.length != 1 || stepRuns[0][1] != STEP_ID_DIGITS
        || dataRuns.length != COLUMNS) {
      return none;
    }
    int[] at = new int[COLUMNS];
    for (int c = 0; c < COLUMNS; c++) {
      if (dataRuns[c][1] != expected[c]) {
        return none;
      }
      at[c] = dataRuns[c][0];
    }
    return new Template(shape, zero, stepRuns[0][0], at, expected);
  }

  /** Another immutable list: readers iterate the old one without locks while a template is added. */
  private static List<Template> concat(List<Template> a, List<Template> b) {
    List<Template> all = new ArrayList<>(a);
    all.addAll(b);
    return List.copyOf(all);
  }

  private static ActivationBatch probe(Shape shape, long stepId, boolean ones) {
    int rows = shape.rows;
    int dim = shape.dim;
    long[] seqIds = new long[rows];
    int[] positions = new int[rows];
    int[] flags = new int[rows];
    float[] hidden = new float[rows * dim];
    if (ones) {
      Arrays.fill(seqIds, -1L);
      Arrays.fill(positions, -1);
      Arrays.fill(flags, -1);
      Arrays.fill(hidden, Float.intBitsToFloat(-1));
    }
    return new ActivationBatch(shape.route, stepId, dim, seqIds, positions, flags, hidden);
  }

  /** [start, length] of each maximal run of positions where two arrays differ; null if their lengths differ. */
  private static int[][] differingRuns(byte[] a, byte[] b) {
    if (a.length != b.length) {
      return null;
    }
    ArrayList<int[]> runs = new ArrayList<>();
    int i = 0;
    while (i < a.length) {
      if (a[i] == b[i]) {
        i++;
        continue;
      }
      int start = i;
      while (i < a.length && a[i] != b[i]) {
        i++;
      }
      runs.add(new int[] {start, i - start});
    }
    return runs.toArray(new int[0][]);
  }

  private static void writeDigits(byte[] out, int at, long value) {
    for (int i = STEP_ID_DIGITS - 1; i >= 0; i--) {
      out[at + i] = (byte) ('0' + value % 10);
      value /= 10;
    }
  }
}
