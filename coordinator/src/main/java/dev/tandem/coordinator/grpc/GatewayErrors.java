package dev.tandem.coordinator.grpc;

import akka.actor.ActorSystem;
import akka.grpc.GrpcServiceException;
import akka.grpc.Trailers;
import akka.grpc.javadsl.GrpcExceptionHandler;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.tandem.coordinator.api.GenerationRejected;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Turns failures into gRPC statuses with client-facing messages: {@link GenerationRejected} keeps its
 * code, unparsable requests (protobuf refuses proto3 strings holding invalid UTF-8 while parsing,
 * before any service code runs) become INVALID_ARGUMENT, anything else is INTERNAL with a
 * correlation id that is also logged with the stack trace.
 */
public final class GatewayErrors {

    private static final Logger log = LoggerFactory.getLogger(GatewayErrors.class);

    static final String INVALID_UTF8 =
            "the request holds invalid UTF-8 in a string field (such as prompt); text fields must be valid UTF-8";

    private GatewayErrors() {}

    public static GrpcServiceException invalidArgument(String message) {
        return new GrpcServiceException(Status.INVALID_ARGUMENT.withDescription(message));
    }

    public static GrpcServiceException notFound(String message) {
        return new GrpcServiceException(Status.NOT_FOUND.withDescription(message));
    }

    public static GrpcServiceException unavailable(String message) {
        return new GrpcServiceException(Status.UNAVAILABLE.withDescription(message));
    }

    /** The status to report for any failure of a call. */
    public static GrpcServiceException toGrpc(Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof GrpcServiceException g) return g;
        if (t instanceof GenerationRejected r) {
            return new GrpcServiceException(Status.fromCode(Status.Code.valueOf(r.code().name())).withDescription(r.getMessage()));
        }
        if (t instanceof akka.http.scaladsl.model.EntityStreamSizeException size) {
            log.info("refused a request body over {} bytes (tandem.gateway.max-request-bytes)", size.limit());
            return new GrpcServiceException(Status.RESOURCE_EXHAUSTED.withDescription("the request is larger than the limit of "
                    + size.limit() + " bytes (tandem.gateway.max-request-bytes)"));
        }
        // Failures of Akka gRPC's own request decoding: malformed input, not our fault.
        if (t instanceof io.grpc.StatusException || t instanceof io.grpc.StatusRuntimeException) {
            Status status = Status.fromThrowable(t);
            log.info("refused a request: {} {}", status.getCode(), status.getDescription());
            // The decoder says INTERNAL for a badly framed message (e.g. a compressed flag without an
            // encoding); it is the client's input that is wrong, and INTERNAL is kept for our own faults.
            return new GrpcServiceException(status.getCode() == Status.Code.INTERNAL
                    ? Status.INVALID_ARGUMENT.withDescription(status.getDescription()) : status);
        }
        if (t.getClass().getName().equals("akka.grpc.internal.MissingParameterException")) {
            log.info("refused a request without a message");
            return invalidArgument("the request holds no message; this method takes exactly one");
        }
        if (t instanceof IllegalStateException && t.getMessage() != null && t.getMessage().startsWith("truncated data")) {
            log.info("refused a truncated request body");
            return invalidArgument("the request body ends inside a gRPC message frame (truncated)");
        }
        if (t instanceof java.util.zip.ZipException z) {
            log.info("refused a request that is not valid gzip: {}", z.getMessage());
            return invalidArgument("the request message is marked compressed but is not valid gzip: " + z.getMessage());
        }
        if (t instanceof SingleMessage.Malformed m) {
            log.info("refused a malformed request body: {}", m.getMessage());
            return invalidArgument(m.getMessage());
        }
        if (t instanceof InvalidProtocolBufferException p) {
            log.info("refused an unparsable request: {}", p.getMessage());
            // Other parse failures are malformed input as well; UTF-8 is the one a client can easily cause.
            String message = p.getMessage() != null && p.getMessage().contains("UTF-8") ? INVALID_UTF8
                    : "the request could not be parsed: " + p.getMessage();
            return invalidArgument(message);
        }
        String correlationId = UUID.randomUUID().toString();
        log.error("internal error {} in a gRPC call", correlationId, t);
        return new GrpcServiceException(Status.INTERNAL.withDescription("internal error, correlation id " + correlationId));
    }

    /**
     * The exception handler for the generated handler factories. It sees failures outside the
     * service methods too, notably request parsing.
     */
    public static akka.japi.Function<ActorSystem, akka.japi.Function<Throwable, Trailers>> handler() {
        return system -> failure -> {
            Throwable t = unwrap(failure);
            // Unknown methods and unimplemented ones keep Akka gRPC's mapping (UNIMPLEMENTED).
            if (t instanceof UnsupportedOperationException || t.getClass().getName().equals("scala.NotImplementedError")) {
                return GrpcExceptionHandler.defaultMapper().apply(system).apply(t);
            }
            return new Trailers(toGrpc(t).getStatus());
        };
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
