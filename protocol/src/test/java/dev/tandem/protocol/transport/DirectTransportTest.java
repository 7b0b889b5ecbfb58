package dev.tandem.protocol.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.Address;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.SerializationExtension;
import dev.tandem.protocol.TestMessages;
import dev.tandem.protocol.TestSystems;
import dev.tandem.protocol.activation.ActivationBatch;
import java.io.DataOutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Two actor systems with Artery on loopback: what the direct transport delivers, in what order, and when it steps aside. */
class DirectTransportTest {

  private static final String REMOTE = """
      akka.actor.provider = remote
      akka.remote.artery.canonical.hostname = 127.0.0.1
      akka.remote.artery.canonical.port = 0
      akka.remote.artery.advanced.maximum-frame-size = 2 MiB
      akka.remote.artery.advanced.maximum-large-frame-size = 20 MiB
      akka.loglevel = WARNING
      """;
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final List<ActorSystem<Void>> systems = new ArrayList<>();

  private ActorSystem<Void> system(String name, String extra) {
    ActorSystem<Void> s = TestSystems.create(name, REMOTE + extra);
    systems.add(s);
    DirectTransport.get(s); // as nodes do at start (worker node, coordinator backend)
    return s;
  }

  @AfterEach
  void terminate() {
    for (ActorSystem<Void> s : systems) {
      s.terminate();
      s.getWhenTerminated().toCompletableFuture().join();
    }
  }

  private static Address addressOf(ActorSystem<?> system) {
    return Adapter.toClassic(system).provider().getDefaultAddress();
  }

  /** System a, system b (with {@code bExtra} config), a probe on b and a's ref to it. */
  private record Peers(ActorSystem<Void> a, ActorSystem<Void> b, TestProbe<TestMessages.Ping> probe,
      ActorRef<TestMessages.Ping> target) {}

  private Peers peers(String bExtra) {
    ActorSystem<Void> a = system("a", "");
    ActorSystem<Void> b = system("b", bExtra);
    TestProbe<TestMessages.Ping> probe = TestProbe.create(b);
    return new Peers(a, b, probe, remoteRef(a, probe.getRef(), b));
  }

  /** A ref to {@code probe} as the other system sees it (resolved from its serialized path). */
  private static <T> ActorRef<T> remoteRef(ActorSystem<?> from, ActorRef<T> probe, ActorSystem<?> owner) {
    String path = akka.actor.typed.ActorRefResolver.get(owner).toSerializationFormat(probe);
    return akka.actor.typed.ActorRefResolver.get(from).resolveActorRef(path);
  }

  @Test
  void messagesArriveInOrderAcrossTheSwitchToTheDirectConnection() {
    Peers p = peers("");
    DirectTransport transport = DirectTransport.get(p.a());
    // The first messages are sent while b's port is still being discovered: they wait, then go first.
    for (int i = 0; i < 300; i++) {
      transport.tell(p.target(), ping(i));
      if (i == 150) {
        p.probe().awaitAssert(WAIT, () -> {
          assertTrue(transport.isDirect(addressOf(p.b())), "connected directly");
          return null;
        });
      }
    }
    expectPings(p.probe(), 300);
    assertTrue(DirectTransport.get(p.b()).port() > 0);
    var sent = dev.tandem.protocol.metrics.NodeMetrics.of(p.a()).counter("tandem_direct_transport_sent_total", "", "path");
    assertEquals(300, sent.value("direct") + sent.value("artery"));
    assertTrue(sent.value("direct") >= 149, "at least the messages after the switch went directly");
  }

  @Test
  void activationsTravelAsArrowAndRepliesFindTheSenderDirectly() {
    ActorSystem<Void> a = system("a", "");
    ActorSystem<Void> b = system("b", "");
    TestProbe<String> replies = TestProbe.create(a);
    ActorRef<TestMessages.StageForward> echo = b.systemActorOf(Behaviors.receive(TestMessages.StageForward.class)
        .onMessage(TestMessages.StageForward.class, m -> {
          DirectTransport.get(b).tell(m.replyTo(), "rows=" + m.batch().rows() + " sum=" + sum(m.batch().hidden()));
          return Behaviors.same();
        }).build(), "echo", akka.actor.typed.Props.empty());
    ActorRef<TestMessages.StageForward> target = remoteRef(a, echo, b);
    float[] hidden = new float[3 * 288];
    for (int i = 0; i < hidden.length; i++) hidden[i] = i * 0.25f;
    ActivationBatch batch = new ActivationBatch("m", 7, 288, new long[] {1, 1, 2}, new int[] {0, 1, 0},
        new int[] {0, 1, 1}, hidden);
    DirectTransport.get(a).tell(target, new TestMessages.StageForward(batch, 1, replies.getRef()));
    assertEquals("rows=3 sum=" + sum(hidden), replies.expectMessageClass(String.class, WAIT));
    replies.awaitAssert(WAIT, () -> {
      assertTrue(DirectTransport.get(b).isDirect(addressOf(a)), "the reply went directly too");
      return null;
    });
  }

  @Test
  void aPeerWithoutTheTransportIsReachedThroughArtery() {
    Peers p = peers("tandem.transport.direct.enabled = off\n");
    for (int i = 0; i < 20; i++) DirectTransport.get(p.a()).tell(p.target(), ping(i));
    expectPings(p.probe(), 20);
    assertFalse(DirectTransport.get(p.a()).isDirect(addressOf(p.b())));
    assertEquals(20, dev.tandem.protocol.metrics.NodeMetrics.of(p.a())
        .counter("tandem_direct_transport_sent_total", "", "path").value("artery"));
    assertEquals(-1, DirectTransport.get(p.b()).port());
  }

  @Test
  void nodesWhoseArteryRunsOverTlsKeepTheStepPathOnIt() {
    // Only the setting is read here (no handshake happens: nothing is sent), so no keystore is needed.
    ActorSystem<Void> a = system("a", "akka.remote.artery.transport = tls-tcp\n");
    assertEquals(-1, DirectTransport.get(a).port());
  }

  @Test
  void garbageOnTheDirectPortClosesThatConnectionOnly() throws Exception {
    ActorSystem<Void> a = system("a", "");
    ActorSystem<Void> b = system("b", "");
    TestProbe<TestMessages.Ping> probe = TestProbe.create(b);
    int port = DirectTransport.get(b).port();
    // A frame for an actor that does not exist is dropped; an oversized length ends the connection.
    try (Socket s = new Socket("127.0.0.1", port)) {
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      byte[] payload = SerializationExtension.get(Adapter.toClassic(b)).serialize(
          new TestMessages.Ping("x", 1, 1, 1, true, 'x', 1)).get();
      out.writeInt(payload.length);
      out.writeInt(SerializationExtension.get(Adapter.toClassic(b))
          .findSerializerFor(new TestMessages.Ping("x", 1, 1, 1, true, 'x', 1)).identifier());
      out.writeUTF(addressOf(b) + "/user/nobody#1");
      out.writeUTF("");
      out.write(payload);
      out.writeInt(Integer.MAX_VALUE);
      out.flush();
      assertEquals(-1, s.getInputStream().read(), "b closed the connection");
    }
    ActorRef<TestMessages.Ping> target = remoteRef(a, probe.getRef(), b);
    DirectTransport.get(a).tell(target, new TestMessages.Ping("ok", 1, 1, 1, true, 'x', 1));
    assertEquals("ok", probe.expectMessageClass(TestMessages.Ping.class, WAIT).text());
  }

  @Test
  void localRecipientsGetAPlainTell() {
    ActorSystem<Void> a = system("a", "");
    TestProbe<TestMessages.Ping> probe = TestProbe.create(a);
    DirectTransport.get(a).tell(probe.getRef(), new TestMessages.Ping("local", 1, 1, 1, true, 'x', 1));
    assertEquals("local", probe.expectMessageClass(TestMessages.Ping.class, WAIT).text());
  }

  @Test
  void discoveryMessagesRoundTripThroughKryo() {
    ActorSystem<Void> a = system("a", "");
    TestProbe<DirectEndpoint.DirectAddress> probe = TestProbe.create(a);
    var serialization = SerializationExtension.get(Adapter.toClassic(a));
    for (Object m : List.of(new DirectEndpoint.WhereIsDirect(probe.getRef()),
        new DirectEndpoint.DirectAddress("akka://a@127.0.0.1:1234", "127.0.0.1", 4321))) {
      byte[] bytes = serialization.serialize(m).get();
      assertEquals(m, serialization.deserialize(bytes, m.getClass()).get());
    }
  }

  @Test
  void aPeerThatStopsReadingCostsAStallTimeoutThenArtery() throws Exception {
    ActorSystem<Void> a = system("a", "");
    TestProbe<String> fallback = TestProbe.create(a);
    // A listener that accepts and never reads: writes fill both socket buffers, then stall.
    try (java.nio.channels.ServerSocketChannel silent = java.nio.channels.ServerSocketChannel.open()) {
      silent.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      java.nio.channels.SocketChannel channel = java.nio.channels.SocketChannel.open(silent.getLocalAddress());
      java.nio.channels.SocketChannel accepted = silent.accept();
      var sent = new dev.tandem.protocol.metrics.MetricsRegistry().counter("sent", "", "path");
      byte[] payload = new byte[1 << 20];
      DirectPeer peer = new DirectPeer(addressOf(a),
          (target, message) -> new DirectFrame("akka://x/user/y", 1, "", payload), sent, Duration.ofMillis(300));
      peer.connected(channel);
      long start = System.nanoTime();
      int n = 0;
      while (!peer.isClosed() && n < 256) {
        peer.send(fallback.getRef(), "m" + n++);
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(peer.isClosed(), "a peer that reads nothing fails its connection (" + n + " MB written)");
      assertTrue(millis < 5_000, "the stall gave up after its timeout, not " + millis + " ms");
      // The message whose write stalled is not lost: it went through Artery (here: a local tell).
      assertEquals("m" + (n - 1), fallback.expectMessageClass(String.class, WAIT));
      assertEquals(1, sent.value("artery"));
      assertEquals(n - 1, sent.value("direct"));
      accepted.close();
    }
  }

  @Test
  void anInlineDispatcherRunsASmallStepOnTheReaderThatDeliveredIt() {
    String inline = """
        inline-dispatcher {
          type = Dispatcher
          executor = "dev.tandem.protocol.transport.ReaderInlineExecutorConfigurator"
          thread-pool-executor.fixed-pool-size = 1
          throughput = 1
        }
        tandem.transport.direct.inline-max-frame-bytes = 2 KiB
        """;
    ActorSystem<Void> a = system("a", "");
    ActorSystem<Void> b = system("b", inline);
    TestProbe<String> threads = TestProbe.create(a);
    ActorRef<TestMessages.StageForward> stage = b.systemActorOf(Behaviors.receive(TestMessages.StageForward.class)
        .onMessage(TestMessages.StageForward.class, m -> {
          DirectTransport.get(b).tell(m.replyTo(), Thread.currentThread().getName());
          return Behaviors.same();
        }).build(), "stage", akka.actor.typed.DispatcherSelector.fromConfig("inline-dispatcher"));
    ActorRef<TestMessages.StageForward> target = remoteRef(a, stage, b);
    ActivationBatch batch = new ActivationBatch("m", 1, 4, new long[] {1}, new int[] {0}, new int[] {0}, new float[4]);
    threads.awaitAssert(WAIT, () -> {
      DirectTransport.get(a).tell(target, new TestMessages.StageForward(batch, 1, threads.getRef()));
      String thread = threads.expectMessageClass(String.class, WAIT);
      assertTrue(thread.contains("-direct-in-"), "ran on " + thread);
      return null;
    });
    // A frame over inline-max-frame-bytes (a long prompt's activations) runs on the pool, as does a message
    // from any other thread.
    ActivationBatch large = new ActivationBatch("m", 2, 288, new long[] {1, 1}, new int[] {1, 2}, new int[] {0, 0},
        new float[2 * 288]);
    DirectTransport.get(a).tell(target, new TestMessages.StageForward(large, 1, threads.getRef()));
    String pooled = threads.expectMessageClass(String.class, WAIT);
    assertTrue(pooled.contains("inline-dispatcher"), "ran on " + pooled);
    stage.tell(new TestMessages.StageForward(batch, 1, threads.getRef()));
    String local = threads.expectMessageClass(String.class, WAIT);
    assertTrue(local.contains("inline-dispatcher"), "ran on " + local);
  }

  private static void expectPings(TestProbe<TestMessages.Ping> probe, int count) {
    for (int i = 0; i < count; i++) {
      assertEquals(i, probe.expectMessageClass(TestMessages.Ping.class, WAIT).n());
    }
  }

  private static TestMessages.Ping ping(int n) {
    return new TestMessages.Ping("n", n, n, 0.5, true, 'x', n);
  }

  private static double sum(float[] values) {
    double s = 0;
    for (float v : values) s += v;
    return s;
  }
}
