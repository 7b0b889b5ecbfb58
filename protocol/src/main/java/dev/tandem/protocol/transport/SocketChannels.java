package dev.tandem.protocol.transport;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SocketChannel;

/** Small socket chores shared by both sides of the direct transport. */
final class SocketChannels {

  private SocketChannels() {}

  /** The peer's address for a log line, "?" once the channel cannot say. */
  static String remoteOf(SocketChannel c) {
    try {
      return String.valueOf(c.getRemoteAddress());
    } catch (IOException e) {
      return "?";
    }
  }

  static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
