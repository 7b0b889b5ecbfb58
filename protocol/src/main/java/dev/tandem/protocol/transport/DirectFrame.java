package dev.tandem.protocol.transport;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * One message on a direct connection: {@code [int payload length][int serializer id][UTF recipient
 * path][UTF manifest][payload]}. The recipient path is the full serialized actor path (with uid), so a
 * message for a stopped actor's successor of the same name goes to dead letters, as with Artery.
 */
record DirectFrame(String recipientPath, int serializerId, String manifest, byte[] payload) {

  /** Writes the header into {@code scratch} (reset first) and returns header and payload as buffers. */
  ByteBuffer[] encode(ByteArrayOutputStream scratch) {
    scratch.reset();
    try {
      DataOutputStream out = new DataOutputStream(scratch);
      out.writeInt(payload.length);
      out.writeInt(serializerId);
      out.writeUTF(recipientPath);
      out.writeUTF(manifest);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen: in-memory stream
    }
    return new ByteBuffer[] {ByteBuffer.wrap(scratch.toByteArray()), ByteBuffer.wrap(payload)};
  }

  /**
   * Reads the next frame; {@link java.io.EOFException} at a clean end of stream.
   *
   * @throws DirectProtocolException for a frame that breaks the format or the size limit: the stream
   *                                 cannot be resynchronized and must be closed
   */
  static DirectFrame read(DataInputStream in, int maxPayloadBytes) throws IOException {
    int length = in.readInt();
    if (length < 0 || length > maxPayloadBytes) {
      throw new DirectProtocolException("frame of " + length + " bytes (limit " + maxPayloadBytes + ")");
    }
    int serializerId = in.readInt();
    String path = in.readUTF();
    String manifest = in.readUTF();
    byte[] payload = new byte[length];
    in.readFully(payload);
    return new DirectFrame(path, serializerId, manifest, payload);
  }

  /** A peer sent bytes that are not a frame. */
  static final class DirectProtocolException extends IOException {
    DirectProtocolException(String message) {
      super(message);
    }
  }
}
