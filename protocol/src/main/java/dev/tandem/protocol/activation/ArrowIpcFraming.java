package dev.tandem.protocol.activation;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;

/**
 * Checks the message framing of an Arrow IPC stream before Arrow's reader sees it. Arrow trusts the
 * length prefixes it reads and allocates heap buffers of that size, so a corrupted prefix could
 * request gigabytes; this walk proves that every length fits inside the bytes we actually hold and
 * that the stream is exactly one schema, one record batch, end-of-stream, and nothing after.
 *
 * <p>The record batch's buffer table is checked too: Arrow 18's reader leaks the body buffer when
 * a buffer offset points outside the body, so such input must never reach it.
 */
final class ArrowIpcFraming {

  /** Marks the new-style (0.15+) framing: continuation marker, then the metadata length. */
  private static final int CONTINUATION_MARKER = 0xFFFFFFFF;
  private static final int PREFIX_BYTES = 4;
  /** Arrow pads metadata and bodies to 8 bytes; anything else is corruption. */
  private static final int ALIGNMENT = 8;
  private static final byte[] EXPECTED_HEADERS = {MessageHeader.Schema, MessageHeader.RecordBatch};
  /** Field nodes of the activation schema: seq_id, position, flags, hidden, hidden.item. */
  static final int FIELD_NODES = 5;
  /** Buffers: validity + data for seq_id, position, flags and item; validity for hidden. */
  static final int BUFFERS = 9;

  private ArrowIpcFraming() {
  }

  /** Throws {@link ActivationFormatException} unless {@code bytes[offset, offset+length)} is well framed. */
  static void validate(byte[] bytes, int offset, int length) {
    ByteBuffer in = ByteBuffer.wrap(bytes, offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
    int message = 0;
    while (true) {
      int metadataLength = readPrefix(in);
      if (metadataLength == 0) {
        break;
      }
      if (message >= EXPECTED_HEADERS.length) {
        throw new ActivationFormatException("Arrow stream has more than one record batch");
      }
      if (metadataLength < 0 || metadataLength > in.remaining() || metadataLength % ALIGNMENT != 0) {
        throw new ActivationFormatException("Arrow message " + message + " claims " + metadataLength
            + " metadata bytes, " + in.remaining() + " remain");
      }
      ByteBuffer metadata = in.slice(in.position(), metadataLength).order(ByteOrder.LITTLE_ENDIAN);
      in.position(in.position() + metadataLength);
      long bodyLength;
      try {
        Message header = Message.getRootAsMessage(metadata);
        byte type = header.headerType();
        if (type != EXPECTED_HEADERS[message]) {
          throw new ActivationFormatException("Arrow message " + message + " has header type " + type
              + ", expected " + MessageHeader.name(EXPECTED_HEADERS[message]));
        }
        bodyLength = header.bodyLength();
        if (bodyLength < 0 || bodyLength > in.remaining() || bodyLength % ALIGNMENT != 0) {
          throw new ActivationFormatException("Arrow message " + message + " claims a body of "
              + bodyLength + " bytes, " + in.remaining() + " remain");
        }
        if (type == MessageHeader.RecordBatch) {
          validateRecordBatch((RecordBatch) header.header(new RecordBatch()), bodyLength);
        }
      } catch (ActivationFormatException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new ActivationFormatException("Arrow message " + message + " has unreadable metadata", e);
      }
      in.position(in.position() + (int) bodyLength);
      message++;
    }
    if (message != EXPECTED_HEADERS.length) {
      throw new ActivationFormatException("Arrow stream ended after " + message + " messages, expected a schema and one record batch");
    }
    if (in.hasRemaining()) {
      throw new ActivationFormatException(in.remaining() + " unexpected bytes after the Arrow end-of-stream marker");
    }
  }

  /** The buffer table fits the body, and the batch has the activation schema's shape, uncompressed. */
  private static void validateRecordBatch(RecordBatch batch, long bodyLength) {
    if (batch == null) {
      throw new ActivationFormatException("record batch message without a record batch header");
    }
    if (batch.compression() != null) {
      throw new ActivationFormatException("compressed record batches are not supported");
    }
    // Every value takes at least one bit of the body, and Arrow Java cannot hold more than
    // Integer.MAX_VALUE values per vector (it leaks the body when a node says otherwise).
    long maxValues = Math.min(Integer.MAX_VALUE, bodyLength * Byte.SIZE);
    if (batch.length() < 0 || batch.length() > maxValues) {
      throw new ActivationFormatException("record batch claims " + batch.length() + " rows");
    }
    if (batch.nodesLength() != FIELD_NODES || batch.buffersLength() != BUFFERS
        || batch.variadicBufferCountsLength() != 0) {
      throw new ActivationFormatException("record batch has " + batch.nodesLength() + " field nodes and "
          + batch.buffersLength() + " buffers, expected " + FIELD_NODES + " and " + BUFFERS);
    }
    for (int i = 0; i < FIELD_NODES; i++) {
      FieldNode node = batch.nodes(i);
      if (node.length() < 0 || node.length() > maxValues || node.nullCount() < 0
          || node.nullCount() > node.length()) {
        throw new ActivationFormatException("record batch field node " + i + " is inconsistent");
      }
    }
    for (int i = 0; i < BUFFERS; i++) {
      Buffer buffer = batch.buffers(i);
      long offset = buffer.offset();
      long length = buffer.length();
      if (offset < 0 || length < 0 || offset > bodyLength || length > bodyLength - offset) {
        throw new ActivationFormatException("record batch buffer " + i + " [" + offset + ", +" + length
            + ") lies outside the " + bodyLength + "-byte body");
      }
    }
  }

  private static int readPrefix(ByteBuffer in) {
    requireBytes(in, PREFIX_BYTES);
    int first = in.getInt();
    if (first != CONTINUATION_MARKER) {
      return first; // legacy framing: the first word is the length itself
    }
    requireBytes(in, PREFIX_BYTES);
    return in.getInt();
  }

  private static void requireBytes(ByteBuffer in, int count) {
    if (in.remaining() < count) {
      throw new ActivationFormatException("Arrow stream truncated: needed " + count + " more bytes");
    }
  }
}
