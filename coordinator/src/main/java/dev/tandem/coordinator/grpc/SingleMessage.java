package dev.tandem.coordinator.grpc;

import akka.NotUsed;
import akka.japi.function.Function;
import akka.stream.javadsl.Flow;
import akka.util.ByteString;

import java.util.List;

/**
 * Checks the body of a call that takes exactly one request message (every tandem.v1.Inference method):
 * a second gRPC message frame fails the body with {@link Malformed}. Akka gRPC would read the first
 * message and silently drop the rest; the gRPC spec makes more than one an error.
 */
final class SingleMessage {

    private static final int FRAME_HEADER_BYTES = 5;

    /** A request body that breaks the gRPC framing rules (reported as INVALID_ARGUMENT). */
    static final class Malformed extends RuntimeException {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    private SingleMessage() {}

    static Flow<ByteString, ByteString, NotUsed> check() {
        return Flow.<ByteString>create().statefulMapConcat(() -> new Function<ByteString, Iterable<ByteString>>() {
            private ByteString header = ByteString.emptyByteString();
            private long seen;
            private long firstFrameEnd = -1;

            @Override
            public Iterable<ByteString> apply(ByteString chunk) {
                if (firstFrameEnd < 0) {
                    header = header.concat(chunk.take(FRAME_HEADER_BYTES - header.size()));
                    if (header.size() == FRAME_HEADER_BYTES) {
                        long length = ((header.apply(1) & 0xFFL) << 24) | ((header.apply(2) & 0xFFL) << 16)
                                | ((header.apply(3) & 0xFFL) << 8) | (header.apply(4) & 0xFFL);
                        firstFrameEnd = FRAME_HEADER_BYTES + length;
                    }
                }
                seen += chunk.size();
                if (firstFrameEnd >= 0 && seen > firstFrameEnd) {
                    throw new Malformed("the request body holds more than one message; this method takes exactly one");
                }
                return List.of(chunk);
            }
        });
    }
}
