package dev.tandem.protocol.serialization;

import com.typesafe.config.Config;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of {@code tandem.serialization.kryo.registrations}: a class and its stable wire id,
 * optionally with a custom Kryo serializer class (no-arg constructor).
 */
public record KryoRegistration(String className, int id, Optional<String> serializerClassName) {

  public static final String CLASS_KEY = "class";
  public static final String ID_KEY = "id";
  public static final String SERIALIZER_KEY = "serializer";

  public KryoRegistration {
    Objects.requireNonNull(className, "className");
    Objects.requireNonNull(serializerClassName, "serializerClassName");
  }

  static KryoRegistration fromConfig(Config entry) {
    return new KryoRegistration(entry.getString(CLASS_KEY), entry.getInt(ID_KEY),
        entry.hasPath(SERIALIZER_KEY) ? Optional.of(entry.getString(SERIALIZER_KEY)) : Optional.empty());
  }
}
