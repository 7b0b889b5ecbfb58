package dev.tandem.protocol.activation;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;

/**
 * Checks the message framing of an Arrow IPC stream before Arrow's reader sees it. Arrow trusts the
 * length prefixes it reads and allocates heap buffers of that size, so a corrupted prefix could
 * request gigabytes; this walk proves that every length fits inside the bytes we actually hold and
 * that the stream is exactly one schema, one record batch, end-of-stream, and nothing after.
 */
final class ArrowIpcFraming {

  /** Marks the new-style (0.15+) framing: continuation marker, then the metadata length. */
  private static final int CONTINUATION_MARKER = 0xFFFFFFFF;
  private static final int PREFIX_BYTES = 4;
  /** Arrow pads metadata and bodies to 8 bytes; anything else is corruption. */
  private static final int ALIGNMENT = 8;
  private static final byte[] EXPECTED_HEADERS = {MessageHeader.Schema, MessageHeader.RecordBatch};

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
      Message header;
      byte type;
      long bodyLength;
      try {
        header = Message.getRootAsMessage(metadata);
        type = header.headerType();
        bodyLength = header.bodyLength();
      } catch (RuntimeException e) {
        throw new ActivationFormatException("Arrow message " + message + " has unreadable metadata", e);
      }
      if (type != EXPECTED_HEADERS[message]) {
        throw new ActivationFormatException("Arrow message " + message + " has header type " + type
            + ", expected " + MessageHeader.name(EXPECTED_HEADERS[message]));
      }
      in.position(in.position() + metadataLength);
      if (bodyLength < 0 || bodyLength > in.remaining() || bodyLength % ALIGNMENT != 0) {
        throw new ActivationFormatException("Arrow message " + message + " claims a body of "
            + bodyLength + " bytes, " + in.remaining() + " remain");
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
