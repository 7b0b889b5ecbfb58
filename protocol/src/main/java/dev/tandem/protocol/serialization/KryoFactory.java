package dev.tandem.protocol.serialization;

import akka.actor.ExtendedActorSystem;
import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.util.MapReferenceResolver;
import dev.tandem.protocol.activation.ArrowActivationCodec;
import dev.tandem.protocol.activation.ArrowMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.objenesis.strategy.StdInstantiatorStrategy;

/**
 * Builds identically configured Kryo instances: registration required, built-ins plus the
 * configured registrations, bounded depth. Configured classes are loaded up front, so a typo in a
 * module's {@code reference.conf} fails actor system start with the class name in the message.
 */
final class KryoFactory {

  private record Resolved(Class<?> type, int id, Class<?> serializer) {
  }

  private final ExtendedActorSystem system;
  private final KryoSettings settings;
  private final List<Resolved> registrations;
  private final Supplier<ArrowActivationCodec> arrow;

  KryoFactory(ExtendedActorSystem system, KryoSettings settings) {
    this.system = system;
    this.settings = settings;
    ClassLoader loader = system.dynamicAccess().classLoader();
    List<Resolved> resolved = new ArrayList<>();
    for (KryoRegistration r : settings.registrations()) {
      resolved.add(new Resolved(load(r.className(), loader), r.id(),
          r.serializerClassName().map(name -> load(name, loader)).orElse(null)));
    }
    this.registrations = List.copyOf(resolved);
    this.arrow = memoize(() -> new ArrowActivationCodec(ArrowMemory.get(system).allocator(),
        settings.maxActivationBytes()));
  }

  Kryo create() {
    Kryo kryo = new Kryo(new RegisteredOnlyClassResolver(), new MapReferenceResolver());
    kryo.setRegistrationRequired(true);
    kryo.setReferences(false); // messages are trees; no shared or cyclic object graphs
    kryo.setMaxDepth(settings.maxDepth());
    // Records use their canonical constructor; other classes get a no-arg constructor if they have
    // one and are otherwise created without running constructors.
    kryo.setInstantiatorStrategy(new com.esotericsoftware.kryo.util.DefaultInstantiatorStrategy(
        new StdInstantiatorStrategy()));
    BuiltInRegistrations.registerAll(kryo, system, arrow);
    for (Resolved r : registrations) {
      if (r.serializer() == null) {
        kryo.register(r.type(), r.id());
      } else {
        kryo.register(r.type(), newSerializer(r.serializer()), r.id());
      }
    }
    return kryo;
  }

  private static Class<?> load(String name, ClassLoader loader) {
    try {
      return Class.forName(name, false, loader);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("tandem.serialization.kryo.registrations names unknown class " + name, e);
    }
  }

  private static Serializer<?> newSerializer(Class<?> type) {
    try {
      return (Serializer<?>) type.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | ClassCastException e) {
      throw new IllegalArgumentException("cannot create Kryo serializer " + type.getName(), e);
    }
  }

  private static <T> Supplier<T> memoize(Supplier<T> supplier) {
    return new Supplier<>() {
      private volatile T value;

      @Override
      public T get() {
        T v = value;
        if (v == null) {
          synchronized (this) {
            v = value;
            if (v == null) {
              v = supplier.get();
              value = v;
            }
          }
        }
        return v;
      }
    };
  }
}
