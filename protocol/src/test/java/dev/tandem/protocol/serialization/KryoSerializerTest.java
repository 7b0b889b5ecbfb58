package dev.tandem.protocol.serialization;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.esotericsoftware.kryo.io.Output;
import dev.tandem.protocol.TestMessages.Blob;
import dev.tandem.protocol.TestMessages.Job;
import dev.tandem.protocol.TestMessages.Node;
import dev.tandem.protocol.TestMessages.Ping;
import dev.tandem.protocol.TestMessages.Priority;
import dev.tandem.protocol.TestMessages.Sized;
import dev.tandem.protocol.TestMessages.Unregistered;
import dev.tandem.protocol.TestSystems;
import java.io.NotSerializableException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class KryoSerializerTest {

  private static final int MAX_MESSAGE_BYTES = 64 * 1024;
  private static final long FUZZ_SEED = 0x7A4DE3L;
  private static final int FUZZ_ROUNDS = 200;

  private static ActorSystem<Void> system;
  private static Serialization serialization;
  private static ActorRef<String> replyTo;

  @BeforeAll
  static void start() {
    system = TestSystems.create("kryo-test", "tandem.serialization.max-message-bytes = " + MAX_MESSAGE_BYTES);
    serialization = SerializationExtension.get(system);
    replyTo = system.systemActorOf(Behaviors.<String>empty(), "reply-to", Props.empty());
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  private static Job sampleJob() {
    Map<String, Long> sizes = new HashMap<>();
    sizes.put("kv", 1L << 40);
    return new Job("job-1", Priority.HIGH, List.of("chat", "fr"), Map.of("a", 1, "b", 2),
        Optional.of("note"), Set.of(3L, 4L, 5L),
        new Node(1, List.of(new Node(2, List.of()), new Node(3, List.of(new Node(4, List.of()))))),
        replyTo, new UUID(1, 2), Duration.ofMillis(1500), Instant.ofEpochSecond(1_700_000_000L, 42),
        Stream.of(1, 2, 3).toList(), sizes);
  }

  /** The serializer Akka picks, its bytes, and the object Akka gets back: a real round trip. */
  private static Object roundTrip(Object message) throws Exception {
    Serializer serializer = serialization.findSerializerFor(message);
    assertInstanceOf(KryoSerializer.class, serializer);
    byte[] bytes = serialization.serialize(message).get();
    String manifest = Serializers.manifestFor(serializer, message);
    return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
  }

  @Test
  void bindingAndIdentifier() {
    assertEquals(KryoSerializer.IDENTIFIER, serialization.findSerializerFor(sampleJob()).identifier());
  }

  @Test
  void recordsWithPrimitivesAndBoxesRoundTrip() throws Exception {
    Ping ping = new Ping("héllo ✓", -7, Long.MIN_VALUE, Double.NaN, true, 'λ', null);
    assertEquals(ping, roundTrip(ping));
    Ping boxed = new Ping("", 0, 0, -0.0, false, '\0', 42);
    assertEquals(boxed, roundTrip(boxed));
  }

  @Test
  void recordsWithCollectionsRefsEnumsAndTimeRoundTrip() throws Exception {
    Job job = sampleJob();
    Job back = (Job) roundTrip(job);
    assertEquals(job, back);
    assertEquals(replyTo, back.replyTo());
    assertEquals(job.tags().getClass(), back.tags().getClass());
  }

  @Test
  void mutableCollectionsAndEmptyOptionalRoundTrip() throws Exception {
    Job job = new Job("j", Priority.LOW, new ArrayList<>(List.of("x")), new HashMap<>(Map.of("k", 9)),
        Optional.empty(), Set.of(), new Node(0, List.of()), replyTo, UUID.randomUUID(), Duration.ZERO,
        Instant.EPOCH, List.of(), Map.of());
    assertEquals(job, roundTrip(job));
  }

  @Test
  void arraysRoundTrip() throws Exception {
    Blob blob = new Blob(new byte[] {1, -2, 3}, new int[] {Integer.MIN_VALUE, 0, 7},
        new long[] {Long.MAX_VALUE}, new float[] {Float.NaN, -0.0f, 1e-45f},
        new double[] {Double.NEGATIVE_INFINITY}, new String[] {"a", null, ""});
    Blob back = (Blob) roundTrip(blob);
    assertArrayEquals(blob.bytes(), back.bytes());
    assertArrayEquals(blob.ints(), back.ints());
    assertArrayEquals(blob.longs(), back.longs());
    assertArrayEquals(blob.floats(), back.floats());
    assertArrayEquals(blob.doubles(), back.doubles());
    assertArrayEquals(blob.strings(), back.strings());
  }

  @Test
  void concurrentRoundTripsShareThePoolSafely() throws Exception {
    int threads = 8;
    int perThread = 300;
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      List<java.util.concurrent.Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        results.add(pool.submit(() -> {
          for (int i = 0; i < perThread; i++) {
            Ping ping = new Ping("t" + thread + "-" + i, i, thread, i * 0.5, i % 2 == 0, 'x', i);
            assertEquals(ping, roundTrip(ping));
            assertEquals(sampleJob(), roundTrip(sampleJob()));
          }
          return perThread;
        }));
      }
      for (java.util.concurrent.Future<Integer> r : results) {
        assertEquals(perThread, r.get(60, java.util.concurrent.TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void unregisteredClassIsRefusedWhenSerializing() {
    Throwable failure = serialization.serialize(new Unregistered("x")).failed().get();
    assertInstanceOf(NotSerializableException.class, failure);
    assertTrue(failure.getMessage().contains("Unregistered"), failure.getMessage());
  }

  @Test
  void unregisteredClassIdIsRefusedWhenDeserializing() {
    Output out = new Output(16);
    out.writeVarInt(12345 + 2, true); // Kryo writes registered id + 2
    assertRefused(out.toBytes(), "unregistered");
  }

  @Test
  void bytesOfARegisteredNonMessageAreRefused() {
    Output out = new Output(16);
    out.writeVarInt(1 + 2, true); // Kryo's built-in String id + 2
    out.writeString("just a string");
    assertRefused(out.toBytes(), "not a KryoMessage");
  }

  @Test
  void classNameOnTheWireIsRefused() {
    Output out = new Output(64);
    out.writeVarInt(1, true); // Kryo's "class by name" marker
    out.writeVarInt(0, true); // name id
    out.writeString("java.util.concurrent.atomic.AtomicLong");
    assertRefused(out.toBytes(), "class names");
  }

  @Test
  void javaSerializationIsOff() {
    Throwable failure = serialization.serialize(new java.util.concurrent.atomic.AtomicLong(1)).failed().get();
    assertTrue(failure.getMessage().toLowerCase().contains("java serialization")
        || failure instanceof NotSerializableException, failure.toString());
  }

  /** A size hint only sizes the first output buffer: low, high or beyond the limit, the message comes back whole. */
  @Test
  void sizeHintsOnlySizeTheBuffer() throws Exception {
    byte[] payload = new byte[40_000];
    new Random(3).nextBytes(payload);
    byte[] reference = serialization.serialize(new Sized(payload, 0)).get();
    for (int hint : new int[] {-1, 16, 40_010, 40_100, MAX_MESSAGE_BYTES * 4}) {
      Sized message = new Sized(payload, hint);
      byte[] bytes = serialization.serialize(message).get();
      // The bytes differ only in the hint field itself (a varint of at most 5 bytes).
      assertTrue(Math.abs(bytes.length - reference.length) <= 4, "hint " + hint + ": " + bytes.length + " bytes");
      Sized back = (Sized) roundTrip(message);
      assertArrayEquals(payload, back.bytes(), "hint " + hint);
    }
    Throwable failure = serialization.serialize(new Sized(new byte[MAX_MESSAGE_BYTES], MAX_MESSAGE_BYTES + 64)).failed().get();
    assertTrue(failure.getMessage().contains("max-message-bytes"), failure.getMessage());
  }

  /**
   * Artery's path ({@link akka.serialization.ByteBufferSerializer}): the same bytes as {@code toBinary(Object)},
   * written after what the buffer already holds; a buffer too small for them gets a BufferOverflowException and
   * keeps its position, and the pooled outputs go on serving the next messages, small or bulk.
   */
  @Test
  void byteBufferPathWritesTheSameBytes() throws Exception {
    KryoSerializer serializer = (KryoSerializer) serialization.findSerializerFor(sampleJob());
    byte[] payload = new byte[40_000];
    new Random(5).nextBytes(payload);
    List<Object> messages = List.of(sampleJob(), new Sized(payload, 40_010), new Ping("x", 7, 1L << 40, 0.5, true, 'c', null), new Sized(payload, 16), sampleJob());
    java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect(MAX_MESSAGE_BYTES + 64);
    for (Object message : messages) {
      byte[] expected = serializer.toBinary(message);
      buffer.clear();
      buffer.put(new byte[] {9, 8, 7}); // an envelope header before the message
      serializer.toBinary(message, buffer);
      assertEquals(3 + expected.length, buffer.position(), message.getClass().getSimpleName());
      buffer.flip();
      assertEquals(9, buffer.get());
      buffer.position(3);
      java.nio.ByteBuffer view = buffer.slice();
      byte[] written = new byte[view.remaining()];
      view.duplicate().get(written);
      assertArrayEquals(expected, written, message.getClass().getSimpleName());
      Object back = serializer.fromBinary(view, "");
      assertEquals(message.getClass(), back.getClass());
      assertEquals(0, view.remaining());
    }
    java.nio.ByteBuffer small = java.nio.ByteBuffer.allocate(1000);
    small.position(10);
    assertThrows(java.nio.BufferOverflowException.class, () -> serializer.toBinary(new Sized(payload, 0), small));
    assertEquals(10, small.position());
    Blob big = new Blob(new byte[MAX_MESSAGE_BYTES], new int[0], new long[0], new float[0], new double[0], new String[0]);
    Throwable failure = assertThrows(Throwable.class, () -> serializer.toBinary(big, buffer.clear()));
    assertTrue(failure.getMessage().contains("max-message-bytes"), failure.getMessage());
    buffer.clear();
    serializer.toBinary(sampleJob(), buffer);
    assertEquals(serializer.toBinary(sampleJob()).length, buffer.position());
  }

  @Test
  void oversizedMessageIsRefusedOnBothSides() {
    Blob big = new Blob(new byte[MAX_MESSAGE_BYTES], new int[0], new long[0], new float[0], new double[0], new String[0]);
    Throwable failure = serialization.serialize(big).failed().get();
    assertInstanceOf(NotSerializableException.class, failure);
    assertTrue(failure.getMessage().contains("max-message-bytes"), failure.getMessage());

    assertRefused(new byte[MAX_MESSAGE_BYTES + 1], "max-message-bytes");
  }

  @Test
  void hugeLengthPrefixIsRefusedWithoutAllocating() throws Exception {
    byte[] valid = serialization.serialize(new Blob(new byte[] {1}, new int[0], new long[0], new float[0],
        new double[0], new String[0])).get();
    // Blob id, then byte[] length prefix: claim two billion bytes.
    Output out = new Output(32);
    out.writeVarInt(905 + 2, true);
    out.writeVarInt(BuiltInRegistrations.BYTE_ARRAY + 2, true);
    out.writeVarInt(Integer.MAX_VALUE - 1, true);
    assertTrue(valid.length > 0);
    assertRefused(out.toBytes(), "elements claimed");
  }

  @Test
  void nestingDeeperThanMaxDepthIsRefused() {
    Node deep = new Node(0, List.of());
    for (int i = 0; i < 200; i++) { // reference max-depth is 64
      deep = new Node(i, List.of(deep));
    }
    Job job = new Job("deep", Priority.LOW, List.of(), Map.of(), Optional.empty(), Set.of(), deep, replyTo,
        new UUID(0, 0), Duration.ZERO, Instant.EPOCH, List.of(), Map.of());
    Throwable failure = serialization.serialize(job).failed().get();
    assertInstanceOf(NotSerializableException.class, failure);
    assertTrue(failure.getMessage().toLowerCase().contains("depth"), failure.getMessage());
  }

  @Test
  void trailingBytesAreRefused() throws Exception {
    byte[] bytes = serialization.serialize(new Ping("x", 1, 2, 3, true, 'c', 1)).get();
    byte[] longer = java.util.Arrays.copyOf(bytes, bytes.length + 1);
    assertRefused(longer, "trailing");
  }

  @Test
  void corruptedBytesFailCleanly() throws Exception {
    byte[] valid = serialization.serialize(sampleJob()).get();
    Serializer serializer = serialization.serializerFor(Job.class);
    Random random = new Random(FUZZ_SEED);
    int refused = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
      byte[] mutated = Mutations.mutate(valid, random);
      try {
        serializer.fromBinary(mutated, Job.class);
      } catch (NotSerializableException expected) {
        refused++;
      } catch (Throwable other) {
        throw new AssertionError("round " + round + ": expected NotSerializableException, got " + other, other);
      }
    }
    assertTrue(refused > FUZZ_ROUNDS / 2, "most mutations should be refused, were " + refused);
  }

  private static void assertRefused(byte[] bytes, String reasonFragment) {
    Serializer serializer = serialization.findSerializerFor(new Ping("", 0, 0, 0, false, 'c', null));
    NotSerializableException e = assertThrows(NotSerializableException.class,
        () -> serializer.fromBinary(bytes, Ping.class));
    String text = e.getMessage() + (e.getCause() == null ? "" : " / " + e.getCause().getMessage());
    assertTrue(text.contains(reasonFragment), text);
  }
}
