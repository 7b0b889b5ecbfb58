package dev.tandem.protocol;

import akka.actor.typed.ActorRef;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.ActivationMessage;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/** Message shapes other modules will use, registered for tests in {@link TestSystems}. */
public final class TestMessages {

  private TestMessages() {
  }

  public enum Priority { LOW, HIGH }

  public record Ping(String text, int n, long big, double d, boolean flag, char c, Integer boxed) implements KryoMessage {
  }

  public record Node(int value, List<Node> children) {
  }

  public record Job(String id, Priority priority, List<String> tags, Map<String, Integer> counts,
      Optional<String> note, Set<Long> ids, Node tree, ActorRef<String> replyTo, UUID uuid,
      Duration timeout, Instant createdAt, List<Integer> tokens, Map<String, Long> sizes)
      implements KryoMessage {
  }

  /** Arrays make record equality by reference; tests compare the contents. */
  public record Blob(byte[] bytes, int[] ints, long[] longs, float[] floats, double[] doubles,
      String[] strings) implements KryoMessage {
  }

  /** Bulk bytes with a size hint for the serializer (any hint, right or wrong). */
  public record Sized(byte[] bytes, int hint) implements KryoMessage, SizeHinted {
    @Override
    public int sizeHintBytes() {
      return hint;
    }
  }

  /** What a worker sends to the next stage: hidden states plus a little routing metadata. */
  public record StageForward(ActivationBatch batch, int microBatch, ActorRef<String> replyTo)
      implements ActivationMessage {
  }

  /** Implements the marker but is not registered. */
  public record Unregistered(String text) implements KryoMessage {
  }
}
