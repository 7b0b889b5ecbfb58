package dev.tandem.engine.memory;

/** Huge-page memory could not be had here (not Linux, no such libc call, or the kernel refused); the message says which. */
public final class HugePagesUnavailableException extends RuntimeException {

    public HugePagesUnavailableException(String message) {
        super(message);
    }

    public HugePagesUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
