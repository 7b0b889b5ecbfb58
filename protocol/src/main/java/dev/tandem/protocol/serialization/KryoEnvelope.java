package dev.tandem.protocol.serialization;

import akka.actor.ExtendedActorSystem;
import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.KryoBufferOverflowException;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import dev.tandem.protocol.SizeHinted;
import java.io.NotSerializableException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;

/**
 * Turns messages into bytes and back with a pool of configured Kryo instances, under one size
 * limit. Shared by {@link KryoSerializer} and the activation serializer.
 *
 * <p>Kryo is not thread-safe, and Akka calls serializers from many threads: each call borrows an
 * instance from a pool. An instance that failed mid-call is dropped rather than returned, since its
 * internal state (depth, generics stack) may be inconsistent. Every failure surfaces as a
 * {@link NotSerializableException} that says why; a size limit is enforced on both sides, so no
 * input can make this allocate beyond the limit.
 */
public final class KryoEnvelope {

  /**
   * Output buffers an instance kept after {@link #writeTo} grew it up to this size are reused; larger ones are
   * dropped, so the pool holds at most {@code pool-capacity} of these (a draft chunk, 256 KiB, fits).
   */
  private static final int MAX_RETAINED_OUTPUT_BYTES = 1 << 20;

  private final Pool<Kryo> pool;
  /** Outputs for {@link #writeTo}: its bytes are copied into the caller's buffer, so the Output's can be reused. */
  private final Pool<Output> outputs;
  private final int initialBufferBytes;
  private final int maxBytes;
  private final String limitKey;

  /** Envelope for ordinary messages, limited by {@code tandem.serialization.max-message-bytes}. */
  public static KryoEnvelope forMessages(ExtendedActorSystem system) {
    KryoSettings settings = KryoSettings.fromConfig(system.settings().config());
    return new KryoEnvelope(new KryoFactory(system, settings), settings, settings.maxMessageBytes(),
        KryoSettings.PATH + ".max-message-bytes");
  }

  /** Envelope for activation messages, limited by {@code tandem.serialization.max-activation-bytes}. */
  public static KryoEnvelope forActivations(ExtendedActorSystem system) {
    KryoSettings settings = KryoSettings.fromConfig(system.settings().config());
    return new KryoEnvelope(new KryoFactory(system, settings), settings, settings.maxActivationBytes(),
        KryoSettings.PATH + ".max-activation-bytes");
  }

  private KryoEnvelope(KryoFactory factory, KryoSettings settings, int maxBytes, String limitKey) {
    int capacity = settings.poolCapacity();
    int initialBufferBytes = settings.initialBufferBytes();
    this.maxBytes = maxBytes;
    this.limitKey = limitKey;
    this.pool = new Pool<>(true, false, capacity) {
      @Override
      protected Kryo create() {
        return factory.create();
      }
    };
    this.initialBufferBytes = initialBufferBytes;
    this.outputs = new Pool<>(true, false, capacity) {
      @Override
      protected Output create() {
        return new Output(Math.min(initialBufferBytes, maxBytes), maxBytes);
      }
    };
  }

  /** Serializes {@code message}, class id first; refuses results over {@code maxBytes}. */
  public byte[] toBytes(Object message) throws NotSerializableException {
    // Bulk messages start at their own size: doubling up from a few KiB allocated ~4x the payload each time.
    int initial = message instanceof SizeHinted sized
        ? Math.max(initialBufferBytes, sized.sizeHintBytes()) : initialBufferBytes;
    Output output = new Output(Math.min(initial, maxBytes), maxBytes);
    write(message, output);
    return output.toBytes();
  }

  /**
   * Writes the bytes {@link #toBytes} would return into {@code buffer} at its position (Artery's envelope buffer,
   * through {@link akka.serialization.ByteBufferSerializer}), serializing into a pooled output instead of a new
   * one and a copy per message: bulk messages such as draft chunks (256 KiB) made those two arrays a large share of
   * a serving node's garbage. {@link BufferOverflowException} when the bytes do not fit what remains of
   * {@code buffer} (its position unchanged).
   */
  public void writeTo(Object message, ByteBuffer buffer) throws NotSerializableException {
    Output output = outputs.obtain();
    try {
      int hint = message instanceof SizeHinted sized ? Math.min(sized.sizeHintBytes(), maxBytes) : 0;
      if (output.getBuffer().length < hint) output.setBuffer(new byte[hint], maxBytes);
      output.reset();
      write(message, output);
      if (output.position() > buffer.remaining()) throw new BufferOverflowException();
      buffer.put(output.getBuffer(), 0, output.position());
    } finally {
      release(output);
    }
  }

  /** Writes {@code message} with a pooled Kryo instance, which is dropped rather than returned if the write fails. */
  private void write(Object message, Output output) throws NotSerializableException {
    Kryo kryo = pool.obtain();
    try {
      kryo.writeClassAndObject(output, message);
      pool.free(kryo);
    } catch (RuntimeException | StackOverflowError e) {
      if (causedBy(e, KryoBufferOverflowException.class)) {
        throw NotSerializable.because(describe(message) + " exceeds " + maxBytes + " bytes (" + limitKey + ")", e);
      }
      throw NotSerializable.because("cannot serialize " + describe(message) + ": " + e.getMessage(), e);
    }
  }

  private void release(Output output) {
    if (output.getBuffer().length <= MAX_RETAINED_OUTPUT_BYTES) outputs.free(output);
  }

  /** Deserializes bytes from {@link #toBytes}; every byte must be consumed. */
  public Object fromBytes(byte[] bytes) throws NotSerializableException {
    if (bytes.length > maxBytes) {
      throw NotSerializable.because("refusing " + bytes.length + " bytes, more than " + maxBytes + " (" + limitKey + ")", null);
    }
    Kryo kryo = pool.obtain();
    Object message;
    BoundedInput input = new BoundedInput(bytes);
    try {
      message = kryo.readClassAndObject(input);
    } catch (RuntimeException | StackOverflowError e) {
      throw NotSerializable.because("cannot deserialize " + bytes.length + " bytes: " + e.getMessage(), e);
    }
    pool.free(kryo);
    if (message == null) {
      throw NotSerializable.because("bytes encode null, not a message", null);
    }
    if (input.remaining() != 0) {
      throw NotSerializable.because(input.remaining() + " trailing bytes after " + describe(message), null);
    }
    return message;
  }

  /** Largest message, in bytes, accepted in either direction. */
  public int maxBytes() {
    return maxBytes;
  }

  private static String describe(Object message) {
    return message == null ? "null" : message.getClass().getName();
  }

  private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }
}
