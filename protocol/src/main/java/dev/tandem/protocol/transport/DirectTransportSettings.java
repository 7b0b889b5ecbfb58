package dev.tandem.protocol.transport;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * Settings under {@code tandem.transport.direct} (see the protocol module's {@code reference.conf}).
 *
 * @param enabled          off = every message goes through Artery
 * @param hostname         interface to listen on; empty = the node's Artery canonical hostname
 * @param port             port to listen on; 0 = any free port (peers ask for it)
 * @param discoveryTimeout how long to wait for a peer to name its port before using Artery for it
 * @param connectTimeout   TCP connect timeout
 * @param writeStallTimeout longest a write waits for a peer that reads nothing before the connection counts as failed
 * @param inlineMaxFrameBytes largest message whose recipient may run on the reader thread that read it
 * @param maxFrameBytes    largest message accepted on a connection (the activation limit plus headers)
 */
public record DirectTransportSettings(boolean enabled, String hostname, int port, Duration discoveryTimeout,
    Duration connectTimeout, Duration writeStallTimeout, int inlineMaxFrameBytes, int maxFrameBytes) {

  public static final String PATH = "tandem.transport.direct";
  /** Room for a frame's header (recipient path, manifest) on top of the message limit. */
  private static final int HEADER_ALLOWANCE = 64 * 1024;

  public DirectTransportSettings {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(PATH + ".port must be 0..65535, got " + port);
    }
    if (discoveryTimeout.isNegative() || discoveryTimeout.isZero()
        || connectTimeout.isNegative() || connectTimeout.isZero()
        || writeStallTimeout.isNegative() || writeStallTimeout.isZero()) {
      throw new IllegalArgumentException(PATH + " timeouts must be > 0");
    }
    if (inlineMaxFrameBytes < 0) {
      throw new IllegalArgumentException(PATH + ".inline-max-frame-bytes must be >= 0, got " + inlineMaxFrameBytes);
    }
    if (maxFrameBytes <= 0) {
      throw new IllegalArgumentException(PATH + ": frame limit must be > 0");
    }
  }

  public static DirectTransportSettings fromConfig(Config root) {
    Config c = root.getConfig(PATH);
    long activation = root.getBytes("tandem.serialization.max-activation-bytes");
    long message = root.getBytes("tandem.serialization.max-message-bytes");
    long frame = Math.min(Integer.MAX_VALUE - 8L, Math.max(activation, message) + HEADER_ALLOWANCE);
    return new DirectTransportSettings(
        c.getBoolean("enabled"),
        c.getString("hostname"),
        c.getInt("port"),
        c.getDuration("discovery-timeout"),
        c.getDuration("connect-timeout"),
        c.getDuration("write-stall-timeout"),
        (int) Math.min(Integer.MAX_VALUE, c.getBytes("inline-max-frame-bytes")),
        (int) frame);
  }
}
