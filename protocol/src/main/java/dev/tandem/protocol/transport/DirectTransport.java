package dev.tandem.protocol.transport;

import akka.actor.Address;
import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.util.Try;

/**
 * Sends the pipeline's step messages to actors on other nodes over direct TCP connections (one per pair
 * of nodes and direction) instead of Artery; an extension per actor system.
 *
 * <p>Why: a lone stream's step crosses three nodes, and on Artery each hop passes an outbound stream, the
 * TCP actors and an inbound stream before the recipient runs — about 1 ms per hop on a loopback
 * cluster, more than the forward pass of a small stage. Here the sending actor serializes (same Akka
 * serializers: Kryo, Arrow) and writes on its own thread, and the peer's reader thread deserializes and
 * hands the message to the recipient's mailbox: one thread wake-up per hop.
 *
 * <p>Semantics are Artery's for these messages: at most once, in order per sender and recipient node
 * (messages wait, in order, while a peer's port is discovered, and a switch to Artery drains them first).
 * Local recipients get a plain {@code tell}. A peer that does not answer discovery (transport off there)
 * and a connection that fails are reached through Artery; a failed peer is rediscovered on its next send
 * (it may have restarted on another port).
 */
public final class DirectTransport implements Extension {

  private static final Logger log = LoggerFactory.getLogger(DirectTransport.class);
  private static final String ARTERY_TRANSPORT_KEY = "akka.remote.artery.transport";
  private static final String ARTERY_TLS = "tls-tcp";
  /** Bound on the cache of resolved recipient paths (stages and step-reply adapters: a handful per node). */
  private static final int RESOLVED_CACHE_LIMIT = 4096;

  private static final class Id extends ExtensionId<DirectTransport> {
    @Override
    public DirectTransport createExtension(ActorSystem<?> system) {
      return new DirectTransport(system);
    }
  }

  private static final Id ID = new Id();

  public static DirectTransport get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final ExtendedActorSystem classic;
  private final DirectTransportSettings settings;
  private final Serialization serialization;
  private final ActorRefResolver resolver;
  private final Address selfAddress;
  private final Map<Address, DirectPeer> peers = new ConcurrentHashMap<>();
  private final Map<String, akka.actor.ActorRef> resolved = new ConcurrentHashMap<>();
  private final DirectListener listener;
  private final ExecutorService connector;
  private final ActorRef<DirectEndpoint.Command> endpoint;
  /** Step messages to other nodes by path: direct, or Artery (no direct port, or a failed connection). */
  private final Counter sent;
  /** Incoming frames dropped: undecodable payload, or a recipient that is not an actor of this node. */
  private final Counter.Child dropped;

  private DirectTransport(ActorSystem<?> system) {
    this.classic = (ExtendedActorSystem) Adapter.toClassic(system);
    this.settings = DirectTransportSettings.fromConfig(system.settings().config());
    this.serialization = SerializationExtension.get(classic);
    this.resolver = ActorRefResolver.get(system);
    this.selfAddress = classic.provider().getDefaultAddress();
    MetricsRegistry metrics = NodeMetrics.of(system);
    this.sent = metrics.counter("tandem_direct_transport_sent_total",
        "Step messages sent to other nodes, by path (direct connection, or Artery)", "path");
    this.dropped = metrics.counter("tandem_direct_transport_dropped_total",
        "Incoming direct-transport messages dropped (undecodable, or for no actor of this node)").labels();
    if (!selfAddress.hasGlobalScope()) {
      // No remoting: every recipient is local.
      listener = null;
      connector = null;
      endpoint = null;
      return;
    }
    DirectListener started = null;
    String host = settings.hostname().isEmpty() ? selfAddress.getHost().get() : settings.hostname();
    var config = system.settings().config();
    boolean arteryTls = config.hasPath(ARTERY_TRANSPORT_KEY) && ARTERY_TLS.equals(config.getString(ARTERY_TRANSPORT_KEY));
    if (settings.enabled() && arteryTls) {
      // The direct connections are plain TCP: with TLS between nodes, the step path stays on Artery's TLS.
      log.info("direct transport of {} off: Artery runs over TLS and the direct transport has no TLS", selfAddress);
    } else if (settings.enabled()) {
      try {
        started = DirectListener.start(host, settings.port(), settings.maxFrameBytes(),
            settings.inlineMaxFrameBytes(), this::deliver, system.name());
        log.info("direct transport of {} listening on {}:{}", selfAddress, host, started.port());
      } catch (IOException e) {
        log.error("direct transport of {} cannot listen on {}:{} ({}): this node uses Artery only", selfAddress,
            host, settings.port(), e.getMessage());
      }
    }
    listener = started;
    connector = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, system.name() + "-direct-connect");
      t.setDaemon(true);
      return t;
    });
    var self = new DirectEndpoint.DirectAddress(selfAddress.toString(),
        listener == null ? "" : host, listener == null ? -1 : listener.port());
    endpoint = system.systemActorOf(DirectEndpoint.create(self, settings.discoveryTimeout(), new Outcome()),
        DirectEndpoint.NAME, Props.empty());
    system.getWhenTerminated().thenRun(this::close);
  }

  /**
   * Sends {@code message} to {@code target}: directly to a remote node when it can be reached that way,
   * else as {@code target.tell(message)}.
   */
  public <T> void tell(ActorRef<T> target, T message) {
    Address address = target.path().address();
    if (listener == null || address.hasLocalScope() || address.equals(selfAddress)) {
      target.tell(message);
      return;
    }
    peerFor(address).send(target, message);
  }

  /**
   * Opens the direct connection to {@code node} now, before a message needs it (discovery, then a connection on the
   * connector thread), so that the first step to that node does not wait for them. Call it only once the node's
   * transport is known to be up: a discovery that fails leaves messages to that node on Artery.
   */
  public void connect(Address node) {
    if (listener == null || node.hasLocalScope() || node.equals(selfAddress)) {
      return;
    }
    peerFor(node);
  }

  /** Whether messages to {@code node} currently travel directly (for tests and status). */
  public boolean isDirect(Address node) {
    DirectPeer peer = peers.get(node);
    return peer != null && peer.isDirect();
  }

  /** This node's direct port, or -1 when it only uses Artery. */
  public int port() {
    return listener == null ? -1 : listener.port();
  }

  private DirectPeer peerFor(Address address) {
    DirectPeer peer = peers.get(address);
    if (peer != null && !peer.isClosed()) {
      return peer;
    }
    DirectPeer fresh = new DirectPeer(address, this::encode, sent, settings.writeStallTimeout());
    boolean created = peer == null ? peers.putIfAbsent(address, fresh) == null : peers.replace(address, peer, fresh);
    if (!created) {
      return peers.get(address);
    }
    endpoint.tell(new DirectEndpoint.Discover(address));
    return fresh;
  }

  private DirectFrame encode(ActorRef<?> target, Object message) {
    Serializer serializer = serialization.findSerializerFor(message);
    byte[] payload = serializer.toBinary(message);
    return new DirectFrame(resolver.toSerializationFormat(target), serializer.identifier(),
        Serializers.manifestFor(serializer, message), payload);
  }

  /** On a reader thread: deserialize and hand to the local recipient; anything wrong drops the message. */
  private void deliver(DirectFrame frame) {
    Try<Object> message = serialization.deserialize(frame.payload(), frame.serializerId(), frame.manifest());
    if (message.isFailure()) {
      log.warn("direct transport: dropping a message for {}: {}", frame.recipientPath(),
          message.failed().get().getMessage());
      dropped.inc(1);
      return;
    }
    akka.actor.ActorRef recipient = resolve(frame.recipientPath());
    if (recipient == null) {
      log.warn("direct transport: dropping a message for {}: not an actor of this node", frame.recipientPath());
      dropped.inc(1);
      return;
    }
    recipient.tell(message.get(), akka.actor.ActorRef.noSender());
  }

  private akka.actor.ActorRef resolve(String path) {
    akka.actor.ActorRef ref = resolved.get(path);
    if (ref != null) {
      return ref;
    }
    try {
      ref = classic.provider().resolveActorRef(path);
    } catch (RuntimeException e) {
      return null;
    }
    if (!ref.path().address().hasLocalScope() && !ref.path().address().equals(selfAddress)) {
      return null;
    }
    if (resolved.size() >= RESOLVED_CACHE_LIMIT) {
      resolved.clear();
    }
    resolved.put(path, ref);
    return ref;
  }


  private void close() {
    if (listener != null) {
      listener.close();
    }
    peers.values().forEach(DirectPeer::close);
    if (connector != null) {
      connector.shutdownNow();
    }
  }

  /** Discovery outcomes, from the endpoint actor: connect on the connector thread, or use Artery. */
  private final class Outcome implements DirectEndpoint.Outcome {
    @Override
    public void found(Address peer, String host, int port) {
      DirectPeer target = peers.get(peer);
      if (target == null) {
        return;
      }
      connector.execute(() -> {
        SocketChannel channel = null;
        try {
          channel = SocketChannel.open();
          channel.socket().connect(new InetSocketAddress(host, port), (int) settings.connectTimeout().toMillis());
          channel.socket().setTcpNoDelay(true);
          target.connected(channel);
        } catch (IOException | RuntimeException e) {
          if (channel != null) {
            SocketChannels.closeQuietly(channel);
          }
          target.useArtery("cannot connect to " + host + ":" + port + ": " + e.getMessage());
        }
      });
    }

    @Override
    public void unavailable(Address peer, String reason) {
      DirectPeer target = peers.get(peer);
      if (target != null) {
        target.useArtery(reason);
      }
    }
  }
}
