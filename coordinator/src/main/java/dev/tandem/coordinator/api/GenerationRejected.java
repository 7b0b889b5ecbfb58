package dev.tandem.coordinator.api;

/**
 * Why a generation could not run or stopped abnormally; the gateway reports it as a gRPC status.
 * Messages are written for the client: they say what was wrong and, where possible, what is allowed.
 */
public final class GenerationRejected extends RuntimeException {

    /** The gRPC status codes the backend may ask for. */
    public enum Code { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL }

    private final Code code;

    public GenerationRejected(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() { return code; }
}
