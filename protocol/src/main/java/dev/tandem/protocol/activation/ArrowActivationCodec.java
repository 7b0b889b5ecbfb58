package dev.tandem.protocol.activation;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Encodes an {@link ActivationBatch} as an Arrow IPC stream (one schema message, one record batch)
 * and back. Schema, one row per token position:
 *
 * <pre>
 *   seq_id   int64                      not null
 *   position int32                      not null
 *   flags    int32                      not null
 *   hidden   FixedSizeList&lt;float32&gt;[dim] not null (items not null)
 * </pre>
 *
 * with schema custom metadata {@code tandem.activation.version}, {@code tandem.route},
 * {@code tandem.step_id}, {@code tandem.dim}. Decoding trusts nothing: framing, schema, metadata,
 * row counts, buffer sizes and the size limit are all checked, and every failure is an
 * {@link ActivationFormatException}. Thread-safe; each call works in its own child allocator of the
 * shared one, bounded so that corrupted bytes cannot make Arrow allocate more than a small multiple
 * of the limit. Small batches skip Arrow's writer and reader through {@link ActivationTemplates}, which
 * writes Arrow's bytes exactly and reads only streams that are exactly Arrow's bytes for a known shape.
 */
public final class ArrowActivationCodec {

  public static final String SEQ_ID = "seq_id";
  public static final String POSITION = "position";
  public static final String FLAGS = "flags";
  public static final String HIDDEN = "hidden";
  /** Name of the float32 child of the hidden FixedSizeList (Arrow's conventional name). */
  public static final String HIDDEN_ITEM = "item";

  public static final String META_VERSION = "tandem.activation.version";
  public static final String META_ROUTE = "tandem.route";
  public static final String META_STEP_ID = "tandem.step_id";
  public static final String META_DIM = "tandem.dim";
  /** Format version; bump when the schema changes incompatibly. */
  public static final String FORMAT_VERSION = "1";

  /** Largest hidden dimension accepted; generous for any Llama-family model. */
  public static final int MAX_DIM = 1 << 16;
  /** Decoded buffers plus validity bitmaps and padding stay well under twice the encoded size. */
  private static final long ALLOCATION_FACTOR = 2;
  private static final long ALLOCATION_SLACK_BYTES = 1 << 20;
  /** Upper bound of the schema message, end-of-stream marker and batch metadata. */
  private static final long FRAMING_OVERHEAD_BYTES = 1024;
  private static final int VALIDITY_BITS_PER_BYTE = 8;

  private final BufferAllocator allocator;
  private final long maxBytes;
  private final ActivationTemplates templates = new ActivationTemplates(this::writeArrow);

  /**
   * @param allocator shared parent allocator (see {@link ArrowMemory}); the codec never closes it
   * @param maxBytes  largest encoded batch accepted in either direction
   */
  public ArrowActivationCodec(BufferAllocator allocator, long maxBytes) {
    this.allocator = Objects.requireNonNull(allocator, "allocator");
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("maxBytes must be > 0");
    }
    this.maxBytes = maxBytes;
  }

  public long maxBytes() {
    return maxBytes;
  }

  /** Bytes of column data for a batch of this shape (the encoding adds under 1 KiB of framing). */
  public static long payloadBytes(long rows, long dim) {
    return rows * (Long.BYTES + Integer.BYTES + Integer.BYTES + dim * Float.BYTES);
  }

  /** The Arrow schema of a batch with hidden dimension {@code dim}. */
  public static Schema schema(int dim, Map<String, String> metadata) {
    Field item = new Field(HIDDEN_ITEM,
        FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)), null);
    return new Schema(List.of(
        new Field(SEQ_ID, FieldType.notNullable(new ArrowType.Int(64, true)), null),
        new Field(POSITION, FieldType.notNullable(new ArrowType.Int(32, true)), null),
        new Field(FLAGS, FieldType.notNullable(new ArrowType.Int(32, true)), null),
        new Field(HIDDEN, FieldType.notNullable(new ArrowType.FixedSizeList(dim)), List.of(item))),
        metadata);
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding

  /**
   * Encodes {@code batch} as Arrow IPC stream bytes: Arrow's writer, or for a small batch the same bytes from a
   * template of its shape ({@link ActivationTemplates}).
   */
  public byte[] encode(ActivationBatch batch) {
    long estimate = payloadBytes(batch.rows(), batch.dim()) + FRAMING_OVERHEAD_BYTES;
    if (payloadBytes(batch.rows(), batch.dim()) > maxBytes) {
      throw tooLarge("encoding", estimate);
    }
    byte[] fast = templates.encode(batch);
    byte[] out = fast != null ? fast : writeArrow(batch);
    if (out.length > maxBytes) {
      throw tooLarge("encoding", out.length);
    }
    return out;
  }

  /** Encodes {@code batch} with Arrow's stream writer. */
  byte[] writeArrow(ActivationBatch batch) {
    long estimate = payloadBytes(batch.rows(), batch.dim()) + FRAMING_OVERHEAD_BYTES;
    // In a fixed order (Map.of iterates in an order that differs from JVM to JVM), so that every node writes the same
    // bytes for the same batch and a peer's template matches them.
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put(META_VERSION, FORMAT_VERSION);
    metadata.put(META_ROUTE, batch.route());
    metadata.put(META_STEP_ID, ActivationTemplates.stepIdText(batch.stepId()));
    metadata.put(META_DIM, Integer.toString(batch.dim()));
    Schema schema = schema(batch.dim(), metadata);
    int rows = batch.rows();
    ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(estimate, Integer.MAX_VALUE - 8));
    try (BufferAllocator scope = childAllocator("encode");
         VectorSchemaRoot root = VectorSchemaRoot.create(schema, scope)) {
      fill((BigIntVector) root.getVector(SEQ_ID), rows, Long.BYTES).asLongBuffer().put(batch.seqIds());
      fill((IntVector) root.getVector(POSITION), rows, Integer.BYTES).asIntBuffer().put(batch.positions());
      fill((IntVector) root.getVector(FLAGS), rows, Integer.BYTES).asIntBuffer().put(batch.flags());
      FixedSizeListVector hidden = (FixedSizeListVector) root.getVector(HIDDEN);
      hidden.setInitialCapacity(rows);
      hidden.allocateNew();
      setAllValid(hidden.getValidityBuffer(), rows);
      fill((Float4Vector) hidden.getDataVector(), rows * batch.dim(), Float.BYTES)
          .asFloatBuffer().put(batch.hidden());
      hidden.setValueCount(rows);
      root.setRowCount(rows);
      try (ArrowStreamWriter writer = new ArrowStreamWriter(root, null, Channels.newChannel(out))) {
        writer.start();
        writer.writeBatch();
        writer.end();
      }
    } catch (IOException | RuntimeException e) {
      throw new ActivationFormatException("cannot encode " + batch + ": " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /**
   * Allocates {@code count} non-null values in {@code vector} (or, for a FixedSizeList's child, its
   * buffers), sets its value count and returns a little-endian view of its data buffer to bulk-copy
   * into. Bulk copies move raw bits, so NaN payloads survive.
   */
  private static ByteBuffer fill(FieldVector vector, int count, int width) {
    vector.setInitialCapacity(count);
    vector.allocateNew();
    setAllValid(vector.getValidityBuffer(), count);
    vector.setValueCount(count);
    return vector.getDataBuffer().nioBuffer(0, count * width).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static void setAllValid(ArrowBuf validity, int count) {
    long fullBytes = count / VALIDITY_BITS_PER_BYTE;
    validity.setOne(0L, fullBytes);
    for (int i = (int) fullBytes * VALIDITY_BITS_PER_BYTE; i < count; i++) {
      byte b = validity.getByte(i / VALIDITY_BITS_PER_BYTE);
      validity.setByte(i / VALIDITY_BITS_PER_BYTE, b | (1 << (i % VALIDITY_BITS_PER_BYTE)));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Decoding

  /** Decodes bytes produced by {@link #encode}. */
  public ActivationBatch decode(byte[] bytes) {
    return decode(bytes, 0, bytes.length);
  }

  /**
   * Decodes the Arrow IPC stream in {@code bytes[offset, offset + length)}: a stream that is a known shape's template
   * with other data is read directly, anything else goes through Arrow's reader and all of its checks.
   */
  public ActivationBatch decode(byte[] bytes, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    if (length > maxBytes) {
      throw tooLarge("decoding", length);
    }
    ActivationBatch fast = templates.decode(bytes, offset, length);
    if (fast != null) {
      return fast;
    }
    ActivationBatch batch = readArrow(bytes, offset, length);
    templates.learn(batch);
    return batch;
  }

  /** Decodes with Arrow's stream reader (after checking the framing), whatever the shape. */
  ActivationBatch readArrow(byte[] bytes, int offset, int length) {
    ArrowIpcFraming.validate(bytes, offset, length);
    try (BufferAllocator scope = childAllocator("decode");
         ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes, offset, length), scope)) {
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      Schema schema = root.getSchema();
      int dim = validateSchema(schema);
      if (!reader.loadNextBatch()) {
        throw new ActivationFormatException("Arrow stream holds no record batch");
      }
      ActivationBatch batch = readBatch(root, schema.getCustomMetadata(), dim, length);
      if (reader.loadNextBatch()) {
        throw new ActivationFormatException("Arrow stream holds more than one record batch");
      }
      return batch;
    } catch (ActivationFormatException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new ActivationFormatException("corrupted Arrow activation batch: " + e, e);
    }
  }

  /** Checks the schema is the activation schema and returns its hidden dimension. */
  private static int validateSchema(Schema schema) {
    Map<String, String> metadata = schema.getCustomMetadata();
    if (metadata == null || !FORMAT_VERSION.equals(metadata.get(META_VERSION))) {
      throw new ActivationFormatException("not a Tandem activation batch (format version "
          + (metadata == null ? null : metadata.get(META_VERSION)) + ", expected " + FORMAT_VERSION + ")");
    }
    int dim = parseInt(metadata, META_DIM);
    if (dim <= 0 || dim > MAX_DIM) {
      throw new ActivationFormatException("dim " + dim + " outside (0, " + MAX_DIM + "]");
    }
    Schema expected = schema(dim, metadata);
    if (!expected.getFields().equals(schema.getFields())) {
      throw new ActivationFormatException("unexpected activation schema " + schema.getFields()
          + ", expected " + expected.getFields());
    }
    return dim;
  }

  private static ActivationBatch readBatch(VectorSchemaRoot root, Map<String, String> metadata, int dim,
      int encodedLength) {
    int rows = root.getRowCount();
    if (rows < 0 || payloadBytes(rows, dim) > encodedLength) {
      throw new ActivationFormatException("record batch claims " + rows + " rows of dim " + dim
          + ", more than " + encodedLength + " bytes can hold");
    }
    BigIntVector seqIds = (BigIntVector) root.getVector(SEQ_ID);
    IntVector positions = (IntVector) root.getVector(POSITION);
    IntVector flags = (IntVector) root.getVector(FLAGS);
    FixedSizeListVector hidden = (FixedSizeListVector) root.getVector(HIDDEN);
    Float4Vector items = (Float4Vector) hidden.getDataVector();
    requireColumn(seqIds, rows, Long.BYTES);
    requireColumn(positions, rows, Integer.BYTES);
    requireColumn(flags, rows, Integer.BYTES);
    requireColumn(hidden, rows, 0);
    requireColumn(items, rows * dim, Float.BYTES);

    long[] seqIdArray = new long[rows];
    int[] positionArray = new int[rows];
    int[] flagArray = new int[rows];
    float[] hiddenArray = new float[rows * dim];
    view(seqIds, rows, Long.BYTES).asLongBuffer().get(seqIdArray);
    view(positions, rows, Integer.BYTES).asIntBuffer().get(positionArray);
    view(flags, rows, Integer.BYTES).asIntBuffer().get(flagArray);
    view(items, rows * dim, Float.BYTES).asFloatBuffer().get(hiddenArray);
    for (int i = 0; i < rows; i++) {
      if (positionArray[i] < 0) {
        throw new ActivationFormatException("row " + i + " has negative position " + positionArray[i]);
      }
    }
    String route = metadata.get(META_ROUTE);
    if (route == null) {
      throw new ActivationFormatException("schema metadata lacks " + META_ROUTE);
    }
    long stepId = parseLong(metadata, META_STEP_ID);
    return new ActivationBatch(route, stepId, dim, seqIdArray, positionArray, flagArray, hiddenArray);
  }

  /** The column has exactly {@code count} values, no nulls, and buffers big enough to hold them. */
  private static void requireColumn(FieldVector vector, int count, int width) {
    String name = vector.getName();
    if (vector.getValueCount() != count) {
      throw new ActivationFormatException("column " + name + " has " + vector.getValueCount()
          + " values, expected " + count);
    }
    long validityBytes = (count + VALIDITY_BITS_PER_BYTE - 1) / VALIDITY_BITS_PER_BYTE;
    if (count > 0 && vector.getValidityBuffer().capacity() < validityBytes) {
      throw new ActivationFormatException("column " + name + " has a truncated validity buffer");
    }
    if (width > 0 && vector.getDataBuffer().capacity() < (long) count * width) {
      throw new ActivationFormatException("column " + name + " has a truncated data buffer");
    }
    if (vector.getNullCount() != 0) {
      throw new ActivationFormatException("column " + name + " has " + vector.getNullCount() + " nulls");
    }
  }

  private static ByteBuffer view(FieldVector vector, int count, int width) {
    return vector.getDataBuffer().nioBuffer(0, count * width).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static int parseInt(Map<String, String> metadata, String key) {
    long value = parseLong(metadata, key);
    if (value != (int) value) {
      throw new ActivationFormatException("metadata " + key + " out of int range: " + value);
    }
    return (int) value;
  }

  private static long parseLong(Map<String, String> metadata, String key) {
    String text = metadata.get(key);
    try {
      return Long.parseLong(Objects.requireNonNull(text));
    } catch (NumberFormatException | NullPointerException e) {
      throw new ActivationFormatException("schema metadata " + key + " is not a number: " + text);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private BufferAllocator childAllocator(String purpose) {
    long limit = maxBytes * ALLOCATION_FACTOR + ALLOCATION_SLACK_BYTES;
    return allocator.newChildAllocator("activation-" + purpose, 0, limit);
  }

  private ActivationFormatException tooLarge(String what, long bytes) {
    return new ActivationFormatException(what + " an activation batch of " + bytes
        + " bytes exceeds the limit of " + maxBytes + " bytes (tandem.serialization.max-activation-bytes)");
  }
}
