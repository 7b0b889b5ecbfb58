package dev.tandem.ops;

import dev.tandem.engine.model.ModelFetchException;
import dev.tandem.engine.model.ModelFormatException;
import picocli.CommandLine;

/**
 * Maps exceptions escaping a subcommand to a message and an exit code. Expected failures (bad input,
 * bad files) print one line; anything else is a bug and keeps its stack trace for the report.
 */
final class FailureHandler implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        if (ex instanceof CommandFailure f) {
            System.err.println("tandem: error: " + f.getMessage());
            return f.exitCode();
        }
        if (ex instanceof ModelFormatException || ex instanceof ModelFetchException || ex instanceof IllegalArgumentException) {
            System.err.println("tandem: error: " + ex.getMessage());
            return CommandFailure.FAILED;
        }
        System.err.println("tandem: internal error (please report): " + ex);
        ex.printStackTrace(System.err);
        return CommandFailure.FAILED;
    }
}
