package dev.tandem.trainer.online;

import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.engine.spec.VerificationListener;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts, per sequence, the per-token acceptance of greedy speculation: drafts accepted over drafts tried
 * up to and including the first rejection of each step (the token acceptance rate alpha, independent of
 * how many drafts were proposed), and forwards every call to another listener (the recorder).
 */
final class AcceptanceCounter extends VerificationListener.Forwarding {

    /** Accepted and tried drafts of one sequence. */
    record Counts(long accepted, long tried) {}

    private final Map<Long, long[]> counts = new ConcurrentHashMap<>();

    AcceptanceCounter(VerificationListener next) {
        super(next);
    }

    @Override
    public void onStart(long seqId, int[] prompt) {
        counts.put(seqId, new long[2]);
        next.onStart(seqId, prompt);
    }

    @Override
    public void onStart(long seqId, int[] prompt, String trafficClass) {
        counts.put(seqId, new long[2]);
        next.onStart(seqId, prompt, trafficClass);
    }

    @Override
    public void onVerified(long seqId, TokenHistory history, int firstPosition, StageOutput out, int firstRow,
                           int committedRows, Draft draft, int acceptedDrafts) {
        long[] c = counts.get(seqId);
        if (c != null) {
            c[0] += acceptedDrafts;
            c[1] += acceptedDrafts + (acceptedDrafts < draft.count() ? 1 : 0);
        }
        next.onVerified(seqId, history, firstPosition, out, firstRow, committedRows, draft, acceptedDrafts);
    }

    Counts counts(long seqId) {
        long[] c = counts.getOrDefault(seqId, new long[2]);
        return new Counts(c[0], c[1]);
    }
}
