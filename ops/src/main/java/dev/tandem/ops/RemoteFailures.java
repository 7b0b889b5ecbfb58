package dev.tandem.ops;

import dev.tandem.cluster.HostAndPort;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns failures of gRPC calls into one-line command failures. */
final class RemoteFailures {

    private RemoteFailures() {}

    private static final String CHANNEL_SHUTDOWN = "Channel shutdown invoked";

    static CommandFailure describe(Throwable failure, HostAndPort target) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
        if (t instanceof StatusRuntimeException s) {
            Status status = s.getStatus();
            if (status.getCode() == Status.Code.UNAVAILABLE && isConnectionProblem(status)) {
                return CommandFailure.failed("cannot reach a Tandem server at " + target + " (" + rootMessage(s) + ")");
            }
            if (status.getCode() == Status.Code.UNAVAILABLE && status.getDescription() != null
                    && status.getDescription().startsWith("Network closed for unknown reason")) {
                // What a plain-text client sees when the server speaks only TLS.
                return CommandFailure.failed(target + " closed the connection; if it serves over TLS, pass --tls with its CA");
            }
            return CommandFailure.failed(target + " answered " + status.getCode()
                    + (status.getDescription() == null ? "" : ": " + status.getDescription()));
        }
        // Akka gRPC gives up on a channel that never connected with a ClientConnectionException.
        if (t.getClass().getName().equals("akka.grpc.internal.ClientConnectionException")) {
            return CommandFailure.failed("cannot reach a Tandem server at " + target + " (" + t.getMessage() + ")");
        }
        return CommandFailure.failed("the call to " + target + " failed: " + t);
    }

    private static boolean isConnectionProblem(Status status) {
        // A server-side UNAVAILABLE (model not ready) carries our own description; transport failures carry a cause.
        // Akka gRPC shuts a channel down once its connection attempts are spent; a call that races that shutdown
        // fails with "Channel shutdown invoked" instead of the connection error.
        return status.getCause() != null || status.getDescription() == null || status.getDescription().startsWith("io exception")
                || status.getDescription().startsWith(CHANNEL_SHUTDOWN);
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null) root = root.getCause();
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }
}
