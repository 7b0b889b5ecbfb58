package dev.tandem.protocol.serialization;

import akka.actor.ExtendedActorSystem;
import akka.serialization.ByteBufferSerializer;
import akka.serialization.JSerializer;
import dev.tandem.protocol.KryoMessage;
import java.nio.ByteBuffer;

/**
 * Akka serializer for {@link dev.tandem.protocol.KryoMessage}s (bound in {@code reference.conf}).
 *
 * <p>Kryo with registration required: the bytes start with a registered class id, never a class
 * name, so bytes cannot make this JVM instantiate a class nobody registered. Registrations are the
 * built-ins ({@link BuiltInRegistrations}) plus {@code tandem.serialization.kryo.registrations}.
 * Messages over {@code tandem.serialization.max-message-bytes} are refused in both directions.
 * Every failure is a {@link java.io.NotSerializableException} carrying the reason (thrown without
 * a checked declaration, as {@code Serializer.fromBinary} declares it).
 *
 * <p>Artery writes messages straight into its envelope buffer ({@link ByteBufferSerializer}): the same bytes as
 * {@link #toBinary(Object)}, from a pooled output, so a message costs no arrays of its own on the way out.
 */
public final class KryoSerializer extends JSerializer implements ByteBufferSerializer {

  /** Stable Akka serializer id; Akka reserves 0-40. */
  public static final int IDENTIFIER = 7201;

  private final KryoEnvelope kryo;

  public KryoSerializer(ExtendedActorSystem system) {
    this.kryo = KryoEnvelope.forMessages(system);
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  /** The registered class id inside the bytes is the manifest. */
  @Override
  public boolean includeManifest() {
    return false;
  }

  @Override
  public byte[] toBinary(Object message) {
    try {
      return kryo.toBytes(message);
    } catch (java.io.NotSerializableException e) {
      throw NotSerializable.raise(e);
    }
  }

  @Override
  public void toBinary(Object message, ByteBuffer buffer) {
    try {
      kryo.writeTo(message, buffer);
    } catch (java.io.NotSerializableException e) {
      throw NotSerializable.raise(e);
    }
  }

  /** As Akka does for a serializer without a buffer path: the remaining bytes, copied, then {@link #fromBinaryJava}. */
  @Override
  public Object fromBinary(ByteBuffer buffer, String manifest) {
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return fromBinaryJava(bytes, null);
  }

  /** Refuses bytes that decode to anything but a {@link KryoMessage} (e.g. a bare String or list). */
  @Override
  public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
    Object message;
    try {
      message = kryo.fromBytes(bytes);
    } catch (java.io.NotSerializableException e) {
      throw NotSerializable.raise(e);
    }
    if (!(message instanceof KryoMessage)) {
      throw NotSerializable.raise(NotSerializable.because("bytes hold a " + message.getClass().getName()
          + ", not a KryoMessage", null));
    }
    return message;
  }
}
