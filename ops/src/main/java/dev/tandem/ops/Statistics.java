package dev.tandem.ops;

import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.spec.SpeculationStats;

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

    static void printSpeculation(PrintStream err, SpeculationStats s) {
        err.printf(Locale.ROOT, "tandem: speculation %s: %d drafted, %d accepted (%.1f%%), %.2f tokens per step over %d steps%n",
                s.proposer(), s.proposed(), s.accepted(), 100 * s.acceptanceRate(), s.tokensPerStep(), s.steps());
    }

    /** The same line for a stream from a cluster, timed on the client (network included). */
    static void printRemote(PrintStream err, RemoteStream.Result r, Object target) {
        err.printf(Locale.ROOT, "tandem: %d prompt tokens, %d new tokens, finished by %s; first token after %.1f ms, then %.1f tok/s (from %s)%n",
                r.usage().getPromptTokens(), r.usage().getCompletionTokens(), finishName(r.finishReason()),
                r.timeToFirstTokenMs(), r.decodeTokensPerSecond(), target);
        var u = r.usage();
        if (!u.getProposer().isEmpty() && !u.getProposer().equals("none")) {
            // The first token comes from the prompt's step; the steps after it decode (and verify) the rest.
            long decoded = Math.max(0, u.getCompletionTokens() - 1);
            // Per token: accepted over drafts tried up to each step's first rejection (independent of the draft length).
            long tried = u.getAccepted() + u.getRejected();
            err.printf(Locale.ROOT, "tandem: speculation %s: %d drafted, %d accepted (%.1f%%), %d rejected (%.1f%% per token), "
                            + "%.2f tokens per step over %d steps%n",
                    u.getProposer(), u.getProposed(), u.getAccepted(),
                    u.getProposed() == 0 ? 0.0 : 100.0 * u.getAccepted() / u.getProposed(), u.getRejected(),
                    tried == 0 ? 0.0 : 100.0 * u.getAccepted() / tried,
                    u.getSteps() == 0 ? 0.0 : (double) decoded / u.getSteps(), u.getSteps());
        }
    }

    static String finishName(dev.tandem.protocol.grpc.FinishReason reason) {
        return reason.name().replace("FINISH_REASON_", "").toLowerCase(Locale.ROOT);
    }
}
