package dev.tandem.ops;

import akka.http.shaded.com.twitter.hpack.Decoder;
import akka.http.shaded.com.twitter.hpack.Encoder;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately naive HTTP/2 client over a plain socket (h2c with prior knowledge), so that tests can
 * send what no well-behaved gRPC client would: truncated or lying gRPC frames, bodies over the limit,
 * raw protobuf bytes, malformed HTTP/2. One call per connection.
 */
final class RawH2c {

    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    static final int DATA = 0x0, HEADERS = 0x1, RST_STREAM = 0x3, SETTINGS = 0x4, PING = 0x6, GOAWAY = 0x7, WINDOW_UPDATE = 0x8;
    static final int END_STREAM = 0x1, END_HEADERS = 0x4, ACK = 0x1;
    private static final int MAX_FRAME = 16_384;
    private static final int READ_TIMEOUT_MS = 60_000;

    /**
     * What came back on stream 1.
     *
     * @param headers  response headers and trailers together (":status", "grpc-status", "grpc-message", ...)
     * @param data     the response's DATA bytes (gRPC frames)
     * @param reset    RST_STREAM error code, or -1
     * @param goAway   GOAWAY error code, or -1
     * @param closed   the server closed the connection before the stream ended
     */
    record Outcome(Map<String, String> headers, byte[] data, int reset, int goAway, boolean closed) {

        /** gRPC status code from the trailers (or a trailers-only response), -1 when there is none. */
        int grpcStatus() {
            String s = headers.get("grpc-status");
            return s == null ? -1 : Integer.parseInt(s);
        }

        String grpcMessage() {
            String m = headers.getOrDefault("grpc-message", "");
            return java.net.URLDecoder.decode(m.replace("+", "%2B"), StandardCharsets.UTF_8);
        }

        /** The server refused the call in some way: a non-OK gRPC status, a reset stream, GOAWAY or a closed connection. */
        boolean refused() {
            int s = grpcStatus();
            return (s > 0) || reset >= 0 || goAway >= 0 || closed || (headers.containsKey(":status") && !headers.get(":status").equals("200"));
        }

        @Override
        public String toString() {
            return "Outcome[status=" + grpcStatus() + " '" + grpcMessage() + "', headers=" + headers + ", data=" + data.length
                    + " bytes, reset=" + reset + ", goAway=" + goAway + ", closed=" + closed + "]";
        }
    }

    private final String host;
    private final int port;

    RawH2c(String host, int port) {
        this.host = host;
        this.port = port;
    }

    /** A gRPC call: POST {@code path} with {@code extraHeaders} (name, value pairs) and the raw body, in DATA frames. */
    Outcome grpc(String path, List<String[]> extraHeaders, byte[] body) throws IOException {
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        Encoder encoder = new Encoder(0); // no dynamic table: every header literal
        header(encoder, block, ":method", "POST");
        header(encoder, block, ":scheme", "http");
        header(encoder, block, ":path", path);
        header(encoder, block, ":authority", host + ":" + port);
        boolean contentTypeGiven = extraHeaders.stream().anyMatch(h -> h[0].equals("content-type"));
        if (!contentTypeGiven) header(encoder, block, "content-type", "application/grpc");
        header(encoder, block, "te", "trailers");
        for (String[] h : extraHeaders) header(encoder, block, h[0], h[1]);
        return exchange(out -> {
            writeFrame(out, HEADERS, body.length == 0 ? END_HEADERS | END_STREAM : END_HEADERS, 1, block.toByteArray());
            for (int offset = 0; offset < body.length; offset += MAX_FRAME) {
                int n = Math.min(MAX_FRAME, body.length - offset);
                byte[] chunk = java.util.Arrays.copyOfRange(body, offset, offset + n);
                writeFrame(out, DATA, offset + n == body.length ? END_STREAM : 0, 1, chunk);
            }
        });
    }

    /**
     * Sends arbitrary bytes after the preface and settings (malformed HTTP/2); a server that neither
     * resets, goes away nor closes within {@code wait} yields an outcome that is not {@link Outcome#refused}.
     */
    Outcome raw(byte[] bytes, int waitMillis) throws IOException {
        try {
            return exchange(out -> out.write(bytes), waitMillis);
        } catch (IOException e) {
            if (e.getCause() instanceof SocketTimeoutException) return new Outcome(Map.of(), new byte[0], -1, -1, false);
            throw e;
        }
    }

    /** A gRPC message frame: compressed flag, big-endian length, then the message. */
    static byte[] frame(int flag, long claimedLength, byte[] message) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(flag);
        b.write((int) (claimedLength >>> 24) & 0xFF);
        b.write((int) (claimedLength >>> 16) & 0xFF);
        b.write((int) (claimedLength >>> 8) & 0xFF);
        b.write((int) claimedLength & 0xFF);
        b.writeBytes(message);
        return b.toByteArray();
    }

    static byte[] frame(byte[] message) {
        return frame(0, message.length, message);
    }

    static void writeFrame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
        int n = payload.length;
        out.write(new byte[]{(byte) (n >>> 16), (byte) (n >>> 8), (byte) n, (byte) type, (byte) flags,
                (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream});
        out.write(payload);
        out.flush();
    }

    private interface Sender {
        void send(OutputStream out) throws IOException;
    }

    private Outcome exchange(Sender sender) throws IOException {
        return exchange(sender, READ_TIMEOUT_MS);
    }

    private Outcome exchange(Sender sender, int timeoutMillis) throws IOException {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(timeoutMillis);
            OutputStream out = socket.getOutputStream();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            out.write(PREFACE);
            writeFrame(out, SETTINGS, 0, 0, new byte[0]);
            Map<String, String> headers = new LinkedHashMap<>();
            ByteArrayOutputStream data = new ByteArrayOutputStream();
            Decoder decoder = new Decoder(1 << 16, 4096);
            boolean sent = false;
            try {
                while (true) {
                    int length = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
                    int type = in.readUnsignedByte();
                    int flags = in.readUnsignedByte();
                    int stream = in.readInt() & 0x7FFF_FFFF;
                    byte[] payload = new byte[length];
                    in.readFully(payload);
                    switch (type) {
                        case SETTINGS -> {
                            if ((flags & ACK) == 0) {
                                writeFrame(out, SETTINGS, ACK, 0, new byte[0]);
                                // Send once the server's settings (its windows) are known.
                                if (!sent) {
                                    sent = true;
                                    try {
                                        sender.send(out);
                                    } catch (IOException e) {
                                        return new Outcome(headers, data.toByteArray(), -1, -1, true);
                                    }
                                }
                            }
                        }
                        case PING -> {
                            if ((flags & ACK) == 0) writeFrame(out, PING, ACK, 0, payload);
                        }
                        case HEADERS -> {
                            decoder.decode(new ByteArrayInputStream(payload), (name, value, parsed, sensitive) -> {
                                headers.put(name, value);
                                return null;
                            });
                            decoder.endHeaderBlock();
                            if (stream == 1 && (flags & END_STREAM) != 0) return new Outcome(headers, data.toByteArray(), -1, -1, false);
                        }
                        case DATA -> {
                            if (stream == 1) data.writeBytes(payload);
                            if (payload.length > 0) { // give the window back so long answers are not stalled
                                byte[] inc = java.nio.ByteBuffer.allocate(4).putInt(payload.length).array();
                                writeFrame(out, WINDOW_UPDATE, 0, 0, inc);
                                writeFrame(out, WINDOW_UPDATE, 0, stream, inc);
                            }
                            if (stream == 1 && (flags & END_STREAM) != 0) return new Outcome(headers, data.toByteArray(), -1, -1, false);
                        }
                        case RST_STREAM -> {
                            if (stream == 1) return new Outcome(headers, data.toByteArray(), java.nio.ByteBuffer.wrap(payload).getInt(), -1, false);
                        }
                        case GOAWAY -> {
                            return new Outcome(headers, data.toByteArray(), -1, java.nio.ByteBuffer.wrap(payload, 4, 4).getInt(), false);
                        }
                        default -> { /* WINDOW_UPDATE and others: nothing to do */ }
                    }
                }
            } catch (EOFException | java.net.SocketException e) {
                return new Outcome(headers, data.toByteArray(), -1, -1, true);
            } catch (SocketTimeoutException e) {
                throw new IOException("the server neither answered nor closed within " + timeoutMillis + " ms", e);
            }
        }
    }

    private static void header(Encoder encoder, ByteArrayOutputStream block, String name, String value) throws IOException {
        encoder.encodeHeader(block, name, value, false);
    }
}
