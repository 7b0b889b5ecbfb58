package dev.tandem.protocol.serialization;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Settings under {@code tandem.serialization}, validated when the serializers start so that a bad
 * registration list fails the actor system at boot rather than the first remote message.
 *
 * @param maxMessageBytes    largest Kryo message ({@code max-message-bytes})
 * @param maxActivationBytes largest activation message ({@code max-activation-bytes})
 * @param maxDepth           deepest object nesting Kryo will follow ({@code kryo.max-depth})
 * @param poolCapacity       Kryo instances kept for reuse ({@code kryo.pool-capacity})
 * @param initialBufferBytes first output buffer size ({@code kryo.initial-buffer})
 * @param registrations      application classes ({@code kryo.registrations}), ids all distinct
 */
public record KryoSettings(int maxMessageBytes, int maxActivationBytes, int maxDepth, int poolCapacity,
    int initialBufferBytes, List<KryoRegistration> registrations) {

  public static final String PATH = "tandem.serialization";
  /** Ids below this are reserved for {@link BuiltInRegistrations}. */
  public static final int FIRST_APPLICATION_ID = 100;
  /** Java arrays cannot be larger; Kryo buffers are arrays. */
  private static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

  public KryoSettings {
    registrations = List.copyOf(registrations);
    Map<Integer, String> byId = new HashMap<>();
    Map<String, Integer> byClass = new HashMap<>();
    for (KryoRegistration r : registrations) {
      if (r.id() < FIRST_APPLICATION_ID) {
        throw new IllegalArgumentException("Kryo id " + r.id() + " of " + r.className()
            + " is reserved for built-ins: use ids >= " + FIRST_APPLICATION_ID);
      }
      String previousClass = byId.putIfAbsent(r.id(), r.className());
      if (previousClass != null && !previousClass.equals(r.className())) {
        throw new IllegalArgumentException("Kryo id " + r.id() + " registered for both " + previousClass
            + " and " + r.className());
      }
      Integer previousId = byClass.putIfAbsent(r.className(), r.id());
      if (previousId != null && previousId != r.id()) {
        throw new IllegalArgumentException(r.className() + " registered with two Kryo ids, " + previousId
            + " and " + r.id());
      }
    }
    if (maxMessageBytes <= 0 || maxActivationBytes <= 0 || maxDepth <= 0 || poolCapacity <= 0
        || initialBufferBytes <= 0) {
      throw new IllegalArgumentException("tandem.serialization limits must all be > 0");
    }
  }

  /** Reads {@code tandem.serialization} from a full config (e.g. the actor system's). */
  public static KryoSettings fromConfig(Config root) {
    Config c = root.getConfig(PATH);
    List<KryoRegistration> registrations = new ArrayList<>();
    // Absent until some module appends to it: modules only ever use `+=`, never `=`.
    if (c.hasPath("kryo.registrations")) {
      for (Config entry : c.getConfigList("kryo.registrations")) {
        registrations.add(KryoRegistration.fromConfig(entry));
      }
    }
    return new KryoSettings(
        arrayBytes(c, "max-message-bytes"),
        arrayBytes(c, "max-activation-bytes"),
        c.getInt("kryo.max-depth"),
        c.getInt("kryo.pool-capacity"),
        arrayBytes(c, "kryo.initial-buffer"),
        registrations);
  }

  private static int arrayBytes(Config c, String key) {
    long bytes = c.getBytes(key);
    if (bytes > MAX_ARRAY_BYTES) {
      throw new IllegalArgumentException(PATH + "." + key + " = " + bytes + " exceeds " + MAX_ARRAY_BYTES);
    }
    return (int) bytes;
  }
}
