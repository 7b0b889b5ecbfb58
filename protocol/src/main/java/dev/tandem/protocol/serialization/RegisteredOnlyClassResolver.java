package dev.tandem.protocol.serialization;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.util.DefaultClassResolver;

/**
 * Class resolver that (1) never accepts a class name from the wire, only registered ids, and (2)
 * maps every implementation of an actor-ref interface to that interface's registration: refs are
 * concrete internal Akka classes ({@code ActorRefAdapter}, {@code LocalActorRef}, ...) that messages
 * only ever declare by their interface.
 */
final class RegisteredOnlyClassResolver extends DefaultClassResolver {

  /** Supertypes whose subclasses share the supertype's registration, most specific first. */
  private static final Class<?>[] FAMILIES = {akka.actor.typed.ActorRef.class, akka.actor.ActorRef.class};

  @Override
  public Registration getRegistration(Class type) {
    Registration registration = super.getRegistration(type);
    if (registration != null) {
      return registration;
    }
    for (Class<?> family : FAMILIES) {
      if (family.isAssignableFrom(type)) {
        return super.getRegistration(family);
      }
    }
    return null;
  }

  @Override
  protected Registration readName(Input input) {
    throw new KryoException("class names on the wire are refused; only registered class ids are accepted");
  }
}
