package dev.tandem.protocol.activation;

import akka.actor.AbstractExtensionId;
import akka.actor.ClassicActorSystemProvider;
import akka.actor.ExtendedActorSystem;
import akka.actor.Extension;
import akka.event.Logging;
import akka.event.LoggingAdapter;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The actor system's one Arrow {@link RootAllocator}, capped at
 * {@code tandem.serialization.arrow.allocator-limit}, closed when the system terminates. Codecs and
 * serializers take short-lived child allocators from it, so Arrow's off-heap use by this JVM is
 * bounded and leaks show up in {@link #allocator()}'s accounting.
 */
public final class ArrowMemory implements Extension {

  public static final String ALLOCATOR_LIMIT_KEY = "tandem.serialization.arrow.allocator-limit";

  private static final Id ID = new Id();

  private final RootAllocator root;

  private ArrowMemory(ExtendedActorSystem system) {
    long limit = system.settings().config().getBytes(ALLOCATOR_LIMIT_KEY);
    this.root = new RootAllocator(limit);
    LoggingAdapter log = Logging.getLogger(system, ArrowMemory.class);
    system.registerOnTermination(() -> {
      try {
        root.close();
      } catch (IllegalStateException leak) {
        log.error(leak, "Arrow memory still allocated at shutdown");
      }
    });
  }

  public static ArrowMemory get(ClassicActorSystemProvider system) {
    return ID.get(system.classicSystem());
  }

  /** The shared root allocator; take child allocators from it rather than allocating directly. */
  public BufferAllocator allocator() {
    return root;
  }

  private static final class Id extends AbstractExtensionId<ArrowMemory> {
    @Override
    public ArrowMemory createExtension(ExtendedActorSystem system) {
      return new ArrowMemory(system);
    }
  }
}
