package dev.tandem.protocol.transport;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import dev.tandem.protocol.metrics.Counter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outbound side of one remote node: while its direct port is being discovered, messages wait here
 * in order; once connected they are written on the caller's thread (one gathering write, no hand-off);
 * if the peer cannot be reached directly they go through Artery. Each switch flushes the waiting
 * messages first, so a sender's messages to this node are never reordered.
 *
 * <p>All methods synchronize on the peer: several actors of this node may write to the same connection.
 */
final class DirectPeer {

  private static final Logger log = LoggerFactory.getLogger(DirectPeer.class);

  private enum State { DISCOVERING, DIRECT, ARTERY, CLOSED }

  private record Waiting(ActorRef<Object> target, Object message) {}

  private final Address address;
  private final BiFunction<ActorRef<?>, Object, DirectFrame> encoder;
  private final Counter.Child sentDirect;
  private final Counter.Child sentThroughArtery;
  private final ArrayDeque<Waiting> waiting = new ArrayDeque<>();
  private final ByteArrayOutputStream header = new ByteArrayOutputStream(256);
  private State state = State.DISCOVERING;
  private SocketChannel channel;

  /**
   * @param encoder serializes a message for a recipient; throws on an unserializable message
   * @param sent    counts messages by path ({@code direct}, {@code artery})
   */
  DirectPeer(Address address, BiFunction<ActorRef<?>, Object, DirectFrame> encoder, Counter sent) {
    this.address = address;
    this.encoder = encoder;
    this.sentDirect = sent.labels("direct");
    this.sentThroughArtery = sent.labels("artery");
  }

  Address address() {
    return address;
  }

  @SuppressWarnings("unchecked")
  synchronized void send(ActorRef<?> target, Object message) {
    ActorRef<Object> recipient = (ActorRef<Object>) target;
    switch (state) {
      case DISCOVERING -> waiting.add(new Waiting(recipient, message));
      case DIRECT -> write(recipient, message);
      case ARTERY, CLOSED -> throughArtery(recipient, message);
    }
  }

  /** Discovery found the peer's port and the connection is open: drain the waiting messages over it. */
  synchronized void connected(SocketChannel connection) {
    if (state != State.DISCOVERING) {
      SocketChannels.closeQuietly(connection);
      return;
    }
    channel = connection;
    state = State.DIRECT;
    log.info("direct transport to {} connected ({})", address, SocketChannels.remoteOf(connection));
    while (!waiting.isEmpty() && state == State.DIRECT) {
      Waiting w = waiting.poll();
      write(w.target, w.message);
    }
    drainThroughArtery();
  }

  /** The peer cannot be reached directly: the waiting and all later messages go through Artery. */
  synchronized void useArtery(String reason) {
    if (state == State.DISCOVERING) {
      log.info("direct transport to {} unavailable ({}): using Artery", address, reason);
      state = State.ARTERY;
    }
    drainThroughArtery();
  }

  synchronized boolean isDirect() {
    return state == State.DIRECT;
  }

  /** Closes the connection; later sends (there should be none) go through Artery. */
  synchronized void close() {
    state = State.CLOSED;
    drainThroughArtery();
    if (channel != null) {
      SocketChannels.closeQuietly(channel);
      channel = null;
    }
  }

  private void write(ActorRef<Object> target, Object message) {
    DirectFrame frame;
    try {
      frame = encoder.apply(target, message);
    } catch (RuntimeException e) {
      // As Artery does with a message it cannot serialize: log and drop (the sender's timeouts apply).
      log.error("dropping {} for {}: cannot serialize it: {}", message.getClass().getName(), target, e.getMessage());
      return;
    }
    try {
      ByteBuffer[] buffers = frame.encode(header);
      long remaining = buffers[0].remaining() + (long) buffers[1].remaining();
      while (remaining > 0) {
        remaining -= channel.write(buffers);
      }
    } catch (IOException e) {
      // The peer went away (or restarted with a new port): this and later messages take Artery, which
      // knows whether the node is still there; the transport forgets this peer so a later send rediscovers.
      log.warn("direct transport to {} failed ({}): falling back to Artery", address, e.getMessage());
      SocketChannels.closeQuietly(channel);
      channel = null;
      state = State.CLOSED;
      throughArtery(target, message);
      return;
    }
    sentDirect.inc(1);
  }

  private void throughArtery(ActorRef<Object> target, Object message) {
    target.tell(message);
    sentThroughArtery.inc(1);
  }

  private void drainThroughArtery() {
    while (!waiting.isEmpty()) {
      Waiting w = waiting.poll();
      throughArtery(w.target, w.message);
    }
  }

  synchronized boolean isClosed() {
    return state == State.CLOSED;
  }
}
