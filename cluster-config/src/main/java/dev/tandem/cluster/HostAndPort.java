package dev.tandem.cluster;

/** A "host:port" pair, as seeds and targets are written on the command line. */
public record HostAndPort(String host, int port) {

    public static final int MAX_PORT = 65_535;

    public HostAndPort {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("the host is empty");
        if (port < 0 || port > MAX_PORT) throw new IllegalArgumentException("port must be in [0, " + MAX_PORT + "], got " + port);
    }

    /** Parses "host:port" (IPv6 hosts in brackets: "[::1]:25520"). */
    public static HostAndPort parse(String text) {
        String s = text.trim();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("\"" + text + "\" is not HOST:PORT");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        try {
            return new HostAndPort(host, Integer.parseInt(s.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("\"" + text + "\" is not HOST:PORT (the port is not a number)");
        }
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
