package dev.tandem.trainer.online;

import dev.tandem.engine.spec.SpeculativeResult;

/**
 * One served request of the benchmark.
 *
 * @param tried        drafts tried up to and including each step's first rejection (for the per-token acceptance)
 * @param tpotNanos    decode time per output token after the first
 * @param latencyNanos prompt processing plus decoding
 */
public record RequestRecord(String trafficClass, long proposed, long accepted, long tried, long steps, long tokens, long tpotNanos,
                     long latencyNanos) {

    static RequestRecord of(String trafficClass, SpeculativeResult r, AcceptanceCounter.Counts c) {
        long tokens = r.generation().tokens().length;
        long tpot = tokens > 1 ? r.generation().decodeNanos() / (tokens - 1) : r.generation().decodeNanos();
        return new RequestRecord(trafficClass, r.stats().proposed(), r.stats().accepted(), c.tried(), r.stats().steps(), r.stats().tokens(), tpot,
                r.generation().prefillNanos() + r.generation().decodeNanos());
    }
}
