package dev.tandem.protocol.serialization;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

/**
 * Kryo serializers for actor references, written as their serialized actor path (with the remote
 * address when remoting is on) and resolved back through the actor system, so that typed
 * {@code ActorRef<T>} fields (reply-to refs) can travel in messages.
 */
final class ActorRefSerializers {

  private ActorRefSerializers() {
  }

  /** Typed refs, via {@link ActorRefResolver}. */
  static final class Typed extends Serializer<ActorRef<?>> {
    private final ExtendedActorSystem system;
    private volatile ActorRefResolver resolver;

    Typed(ExtendedActorSystem system) {
      super(false, true);
      this.system = system;
    }

    /** Looked up on first use: serializers are built while the actor system is still starting. */
    private ActorRefResolver resolver() {
      ActorRefResolver r = resolver;
      if (r == null) {
        r = ActorRefResolver.get(Adapter.toTyped(system));
        resolver = r;
      }
      return r;
    }

    @Override
    public void write(Kryo kryo, Output output, ActorRef<?> ref) {
      output.writeString(resolver().toSerializationFormat(ref));
    }

    @Override
    public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
      return resolver().resolveActorRef(requirePath(input));
    }
  }

  /** Classic refs, via the actor ref provider. */
  static final class Classic extends Serializer<akka.actor.ActorRef> {
    private final ExtendedActorSystem system;

    Classic(ExtendedActorSystem system) {
      super(false, true);
      this.system = system;
    }

    @Override
    public void write(Kryo kryo, Output output, akka.actor.ActorRef ref) {
      output.writeString(Serialization.serializedActorPath(ref));
    }

    @Override
    public akka.actor.ActorRef read(Kryo kryo, Input input, Class<? extends akka.actor.ActorRef> type) {
      return system.provider().resolveActorRef(requirePath(input));
    }
  }

  private static String requirePath(Input input) {
    String path = input.readString();
    if (path == null || path.isEmpty()) {
      throw new KryoException("actor ref without a path");
    }
    return path;
  }
}
