package dev.tandem.protocol.activation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import dev.tandem.protocol.TestMessages.StageForward;
import dev.tandem.protocol.TestSystems;
import dev.tandem.protocol.serialization.Mutations;
import java.io.NotSerializableException;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Activation messages through Akka's serialization extension in a real actor system. */
class ArrowActivationSerializerTest {

  private static final int MAX_ACTIVATION_BYTES = 512 * 1024;
  private static final int MAX_MESSAGE_BYTES = 16 * 1024;
  private static final long FUZZ_SEED = 0x5EED5L;
  private static final int FUZZ_ROUNDS = 200;

  private static ActorSystem<Void> system;
  private static Serialization serialization;
  private static ActorRef<String> replyTo;

  @BeforeAll
  static void start() {
    system = TestSystems.create("activation-test",
        "tandem.serialization.max-activation-bytes = " + MAX_ACTIVATION_BYTES + "\n"
            + "tandem.serialization.max-message-bytes = " + MAX_MESSAGE_BYTES);
    serialization = SerializationExtension.get(system);
    replyTo = system.systemActorOf(Behaviors.<String>empty(), "next-stage", Props.empty());
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  private static Object roundTrip(Object message) {
    Serializer serializer = serialization.findSerializerFor(message);
    assertInstanceOf(ArrowActivationSerializer.class, serializer);
    byte[] bytes = serialization.serialize(message).get();
    return serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
  }

  @Test
  void bareBatchRoundTrips() {
    ActivationBatch batch = ArrowActivationCodecTest.sample(16, 288, 1);
    batch.hidden()[0] = Float.intBitsToFloat(0x7FC0_BEEF);
    batch.hidden()[1] = -0.0f;
    assertEquals(batch, roundTrip(batch));
  }

  @Test
  void stageMessageWithRoutingAndReplyToRoundTrips() {
    // 16 x 288 floats = 18 KiB: over max-message-bytes, fine under max-activation-bytes.
    StageForward message = new StageForward(ArrowActivationCodecTest.sample(16, 288, 2), 3, replyTo);
    StageForward back = (StageForward) roundTrip(message);
    assertEquals(message, back);
    assertEquals(replyTo, back.replyTo());
  }

  @Test
  void oversizedActivationIsRefused() throws Exception {
    int rows = MAX_ACTIVATION_BYTES / (288 * Float.BYTES) + 1;
    Throwable failure = serialization.serialize(
        new StageForward(ArrowActivationCodecTest.sample(rows, 288, 3), 0, replyTo)).failed().get();
    assertInstanceOf(NotSerializableException.class, failure);
    Serializer serializer = serialization.serializerFor(StageForward.class);
    Throwable tooBig = org.junit.jupiter.api.Assertions.assertThrows(NotSerializableException.class,
        () -> serializer.fromBinary(new byte[MAX_ACTIVATION_BYTES + 1], StageForward.class));
    assertTrue(tooBig.getMessage().contains("max-activation-bytes"), tooBig.getMessage());
  }

  @Test
  void corruptedBytesFailCleanlyOrDecodeValidly() throws Exception {
    byte[] valid = serialization.serialize(new StageForward(ArrowActivationCodecTest.sample(4, 24, 4), 1, replyTo)).get();
    Serializer serializer = serialization.serializerFor(StageForward.class);
    Random random = new Random(FUZZ_SEED);
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
      byte[] mutated = Mutations.mutate(valid, random);
      try {
        assertInstanceOf(ActivationMessage.class, serializer.fromBinary(mutated, StageForward.class));
      } catch (NotSerializableException expected) {
        // documented failure
      } catch (Throwable other) {
        throw new AssertionError("round " + round + ": expected NotSerializableException, got " + other, other);
      }
    }
    assertEquals(0, ArrowMemory.get(system).allocator().getAllocatedMemory(), "Arrow memory leaked");
  }
}
