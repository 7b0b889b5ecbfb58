package dev.tandem.ops;

import dev.tandem.engine.generate.GenerationResult;

import java.io.PrintStream;
import java.util.Locale;

/** One-line statistics of a generation, for stderr. */
final class Statistics {

    private Statistics() {}

    static void printGeneration(PrintStream err, GenerationResult r) {
        err.printf(Locale.ROOT, "tandem: %d prompt tokens, %d new tokens, finished by %s; first token after %.1f ms, then %.1f tok/s%n",
                r.promptTokens().length, r.tokens().length, r.finishReason().name().toLowerCase(Locale.ROOT),
                r.prefillNanos() / 1e6, r.decodeTokensPerSecond());
    }
}
