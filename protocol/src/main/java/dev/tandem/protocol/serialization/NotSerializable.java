package dev.tandem.protocol.serialization;

import java.io.NotSerializableException;

/**
 * Builds and throws the {@link NotSerializableException}s that are this module's one documented
 * failure type for (de)serialization.
 *
 * <p>Akka's {@code JSerializer.toBinary/fromBinaryJava} are declared without checked exceptions
 * (they are Scala methods), while the callers' entry point {@code Serializer.fromBinary} declares
 * {@code NotSerializableException}. {@link #raise} therefore rethrows the checked exception
 * unchecked, which is how Akka's own Scala serializers behave.
 */
public final class NotSerializable {

  private NotSerializable() {
  }

  public static NotSerializableException because(String reason, Throwable cause) {
    NotSerializableException e = new NotSerializableException(reason);
    if (cause != null) {
      e.initCause(cause);
    }
    return e;
  }

  /** Throws {@code e} without declaring it; declared to return so callers can write {@code throw raise(e)}. */
  public static RuntimeException raise(NotSerializableException e) {
    throw NotSerializable.<RuntimeException>sneaky(e);
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T sneaky(Throwable t) throws T {
    throw (T) t;
  }
}
