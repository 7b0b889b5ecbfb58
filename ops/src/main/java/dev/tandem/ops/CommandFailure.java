package dev.tandem.ops;

/** A failure to report as one sentence on stderr with an exit code, without a stack trace. */
public final class CommandFailure extends RuntimeException {

    public static final int FAILED = 1;
    public static final int USAGE = 2;

    private final int exitCode;

    public CommandFailure(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public static CommandFailure usage(String message) {
        return new CommandFailure(message, USAGE);
    }

    public static CommandFailure failed(String message) {
        return new CommandFailure(message, FAILED);
    }

    public int exitCode() { return exitCode; }
}
