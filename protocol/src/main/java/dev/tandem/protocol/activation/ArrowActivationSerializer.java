package dev.tandem.protocol.activation;

import akka.actor.ExtendedActorSystem;
import akka.serialization.JSerializer;
import dev.tandem.protocol.serialization.KryoEnvelope;
import dev.tandem.protocol.serialization.NotSerializable;
import java.io.NotSerializableException;

/**
 * Akka serializer for {@link ActivationMessage}s (bound in {@code reference.conf}): an
 * {@link ActivationBatch} on its own, or a worker message carrying one plus routing fields.
 *
 * <p>Wire format: a Kryo envelope (registered class id, then the message's small fields) in which
 * each {@code ActivationBatch} is a length-prefixed Arrow IPC stream
 * ({@link ArrowActivationCodec}). The limit is {@code tandem.serialization.max-activation-bytes},
 * larger than the one for ordinary messages; such messages should travel on Artery's large-message
 * lane (see {@code akka.remote.artery.large-message-destinations} in {@code reference.conf}).
 * Failures are {@link NotSerializableException}s with the reason.
 */
public final class ArrowActivationSerializer extends JSerializer {

  /** Stable Akka serializer id, next to {@code KryoSerializer}'s 7201. */
  public static final int IDENTIFIER = 7202;
  public static final String MAX_BYTES_KEY = "tandem.serialization.max-activation-bytes";

  private final KryoEnvelope envelope;

  public ArrowActivationSerializer(ExtendedActorSystem system) {
    this.envelope = KryoEnvelope.forActivations(system);
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public boolean includeManifest() {
    return false;
  }

  @Override
  public byte[] toBinary(Object message) {
    if (!(message instanceof ActivationMessage)) {
      throw NotSerializable.raise(NotSerializable.because(message.getClass().getName()
          + " is not an ActivationMessage", null));
    }
    try {
      return envelope.toBytes(message);
    } catch (NotSerializableException e) {
      throw NotSerializable.raise(e);
    }
  }

  @Override
  public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
    Object message;
    try {
      message = envelope.fromBytes(bytes);
    } catch (NotSerializableException e) {
      throw NotSerializable.raise(e);
    }
    if (!(message instanceof ActivationMessage)) {
      throw NotSerializable.raise(NotSerializable.because("bytes hold a " + message.getClass().getName()
          + ", not an ActivationMessage", null));
    }
    return message;
  }
}
