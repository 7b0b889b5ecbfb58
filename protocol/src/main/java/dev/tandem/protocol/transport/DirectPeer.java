package dev.tandem.protocol.transport;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import dev.tandem.protocol.metrics.Counter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
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
 * <p>A write waits for the peer to read at most {@code writeStallTimeout} without progress; then the connection is
 * taken as failed (this and later messages go through Artery). So a hung peer that keeps its socket open never holds
 * the sending thread for good, and neither can a cycle of nodes whose reader threads all wait to write to one another
 * (a stage runs on the reader that delivered its step, see {@link ReaderInlineExecutorConfigurator}).
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
  private final long writeStallNanos;
  private State state = State.DISCOVERING;
  private SocketChannel channel;
  /** Waits for the non-blocking channel to take more bytes (opened on the first full socket buffer). */
  private Selector writable;

  /**
   * @param encoder serializes a message for a recipient; throws on an unserializable message
   * @param sent    counts messages by path ({@code direct}, {@code artery})
   * @param writeStallTimeout longest wait for the peer to read when its socket buffer is full
   */
  DirectPeer(Address address, BiFunction<ActorRef<?>, Object, DirectFrame> encoder, Counter sent,
      Duration writeStallTimeout) {
    this.address = address;
    this.encoder = encoder;
    this.writeStallNanos = writeStallTimeout.toNanos();
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
    try {
      connection.configureBlocking(false);
    } catch (IOException e) {
      SocketChannels.closeQuietly(connection);
      useArtery("cannot make the connection non-blocking: " + e.getMessage());
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
    closeChannel();
  }

  private void closeChannel() {
    if (channel != null) {
      SocketChannels.closeQuietly(channel);
      channel = null;
    }
    if (writable != null) {
      try {
        writable.close();
      } catch (IOException ignored) {
        // nothing left to release
      }
      writable = null;
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
      writeFully(frame.encode(header));
    } catch (IOException e) {
      // The peer went away (or restarted with a new port, or stopped reading): this and later messages take
      // Artery, which knows whether the node is still there; the transport forgets this peer so a later send
      // rediscovers. A frame cut short by a stall is never completed: the peer's reader sees the connection end.
      log.warn("direct transport to {} failed ({}): falling back to Artery", address, e.getMessage());
      closeChannel();
      state = State.CLOSED;
      throughArtery(target, message);
      return;
    }
    sentDirect.inc(1);
  }

  /** Writes every byte of {@code buffers}, waiting for the peer while it reads; throws after a stall. */
  private void writeFully(ByteBuffer[] buffers) throws IOException {
    long remaining = 0;
    for (ByteBuffer b : buffers) {
      remaining += b.remaining();
    }
    long stalledSince = 0;
    while (remaining > 0) {
      long written = channel.write(buffers);
      remaining -= written;
      if (remaining == 0) {
        return;
      }
      long now = System.nanoTime();
      if (written > 0 || stalledSince == 0) {
        stalledSince = now;
      } else if (now - stalledSince >= writeStallNanos) {
        throw new IOException("the peer read nothing for " + writeStallNanos / 1_000_000 + " ms");
      }
      if (writable == null) {
        writable = Selector.open();
        channel.register(writable, SelectionKey.OP_WRITE);
      }
      long left = writeStallNanos - (now - stalledSince);
      writable.select(Math.max(1, left / 1_000_000));
      writable.selectedKeys().clear();
    }
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
