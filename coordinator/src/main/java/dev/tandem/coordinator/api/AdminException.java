package dev.tandem.coordinator.api;

/** Why an admin call was refused or failed; {@link Code} names the gRPC status to report. */
public final class AdminException extends RuntimeException {

    public enum Code { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE, INTERNAL }

    private final Code code;

    public AdminException(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() { return code; }

    @Override
    public String toString() { return code + ": " + getMessage(); }
}
