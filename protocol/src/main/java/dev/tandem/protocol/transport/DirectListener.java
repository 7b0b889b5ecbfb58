package dev.tandem.protocol.transport;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inbound side: a server socket and one reader thread per connected peer. A reader blocks on its
 * socket and hands each frame to {@code deliver} on its own thread, so a message reaches its recipient's
 * mailbox with a single thread wake-up. A frame that breaks the format closes that connection only (the
 * peer then falls back to Artery); a frame that cannot be deserialized or delivered is dropped by
 * {@code deliver}.
 */
final class DirectListener implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DirectListener.class);
  private static final int READ_BUFFER_BYTES = 64 * 1024;
  /** True on a reader thread while it delivers a frame small enough to run its recipient inline. */
  private static final ThreadLocal<Boolean> INLINE = ThreadLocal.withInitial(() -> false);

  private final ServerSocketChannel server;
  private final int maxFrameBytes;
  private final int inlineMaxBytes;
  private final Consumer<DirectFrame> deliver;
  private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
  private final AtomicInteger readers = new AtomicInteger();
  private volatile boolean closed;

  private DirectListener(ServerSocketChannel server, int maxFrameBytes, int inlineMaxBytes,
      Consumer<DirectFrame> deliver) {
    this.server = server;
    this.maxFrameBytes = maxFrameBytes;
    this.inlineMaxBytes = inlineMaxBytes;
    this.deliver = deliver;
  }

  /** Binds and starts accepting; {@code threadPrefix} names the threads (the actor system's name). */
  static DirectListener start(String host, int port, int maxFrameBytes, int inlineMaxBytes,
      Consumer<DirectFrame> deliver, String threadPrefix) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    try {
      server.bind(new InetSocketAddress(host, port));
    } catch (IOException e) {
      server.close();
      throw e;
    }
    DirectListener listener = new DirectListener(server, maxFrameBytes, inlineMaxBytes, deliver);
    Thread acceptor = new Thread(() -> listener.acceptLoop(threadPrefix), threadPrefix + "-direct-accept");
    acceptor.setDaemon(true);
    acceptor.start();
    return listener;
  }

  int port() {
    try {
      return ((InetSocketAddress) server.getLocalAddress()).getPort();
    } catch (IOException e) {
      return -1;
    }
  }

  private void acceptLoop(String threadPrefix) {
    while (!closed) {
      SocketChannel connection;
      try {
        connection = server.accept();
        connection.socket().setTcpNoDelay(true);
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!closed) {
          log.warn("direct transport: accept failed: {}", e.getMessage());
        }
        continue;
      }
      connections.add(connection);
      Thread reader = new Thread(() -> readLoop(connection),
          threadPrefix + "-direct-in-" + readers.incrementAndGet());
      reader.setDaemon(true);
      reader.start();
    }
  }

  /**
   * Whether the calling thread is a reader delivering a frame of at most {@code inline-max-frame-bytes} that has not
   * run a recipient inline yet (see {@link ReaderInlineExecutorConfigurator}); true at most once per frame, so a
   * mailbox scheduled from inside an inline run goes to its pool. A large frame (a long prompt's activations) runs on
   * the pool, so that a long forward never keeps the reader from draining its socket for long.
   */
  static boolean takeInlineTurn() {
    if (!INLINE.get()) {
      return false;
    }
    INLINE.set(false);
    return true;
  }

  private void readLoop(SocketChannel connection) {
    try (connection) {
      DataInputStream in = new DataInputStream(
          new BufferedInputStream(Channels.newInputStream(connection), READ_BUFFER_BYTES));
      while (!closed) {
        DirectFrame frame = DirectFrame.read(in, maxFrameBytes);
        INLINE.set(frame.payload().length <= inlineMaxBytes);
        try {
          deliver.accept(frame);
        } finally {
          INLINE.set(false);
        }
      }
    } catch (EOFException | ClosedChannelException e) {
      // the peer closed the connection, or we did
    } catch (DirectFrame.DirectProtocolException e) {
      log.warn("direct transport: closing connection from {}: {}", SocketChannels.remoteOf(connection), e.getMessage());
    } catch (IOException e) {
      if (!closed) {
        log.info("direct transport: connection from {} ended: {}", SocketChannels.remoteOf(connection), e.getMessage());
      }
    } finally {
      connections.remove(connection);
    }
  }

  @Override
  public void close() {
    closed = true;
    SocketChannels.closeQuietly(server);
    for (SocketChannel c : connections) {
      SocketChannels.closeQuietly(c);
    }
  }
}
