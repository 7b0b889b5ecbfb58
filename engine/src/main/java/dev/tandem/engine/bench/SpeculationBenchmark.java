package dev.tandem.engine.bench;

import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.SpeculationStats;
import dev.tandem.engine.spec.SpeculativeResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Speculative decoding on story traffic, for each proposer and stream count, against {@code none} in the same
 * run: greedy requests (so outputs can be checked against {@code none}'s), run as groups of {@code streams}
 * concurrent sequences until all requests are done. Reports acceptance, tokens per step, aggregate tok/s and
 * the speedup. The mode (local, cluster) is the {@link SpeculationRunner}'s; rows of several runners can be
 * concatenated.
 */
public final class SpeculationBenchmark {

    public static final int DEFAULT_REQUESTS = 8;
    public static final int DEFAULT_NEW_TOKENS = 128;
    public static final int DEFAULT_ROUNDS = 2;
    /** New tokens of the warm-up requests each proposer runs before it is measured (the Vector API kernels need C2). */
    private static final int WARMUP_TOKENS = 64;
    /** Warm-up requests per proposer and stream count. */
    private static final int WARMUP_REQUESTS = 2;
    /**
     * The kernels reach full speed only once C2 has compiled them, after ~1000+ forwards; the first warm-up
     * repeats until two rounds in a row agree within {@link #STABLE_SPEED}, at least {@link Settings#warmupRounds()} rounds
     * (0: no such warm-up, for quick checks).
     */
    public static final int DEFAULT_WARMUP_ROUNDS = 6;
    private static final int MAX_WARMUP_ROUNDS = 40;
    private static final double STABLE_SPEED = 0.1;

    /**
     * @param proposers proposer names, {@code none} first when speedups are wanted
     * @param streams   concurrent sequences per configuration (e.g. 1 and 8)
     * @param requests  requests per configuration
     * @param newTokens max new tokens per request
     * @param warmupRounds least rounds of the first warm-up (more run until the speed is stable)
     * @param rounds    measured rounds per configuration, each over {@code requests} fresh requests
     */
    public record Settings(List<String> proposers, List<Integer> streams, int requests, int newTokens, int warmupRounds,
                           int rounds) {
        public Settings {
            if (rounds < 1) throw new IllegalArgumentException("rounds must be >= 1");
            if (warmupRounds < 0) throw new IllegalArgumentException("warm-up rounds must be >= 0");
            proposers = List.copyOf(proposers);
            streams = List.copyOf(streams);
            if (requests < 1 || newTokens < 1) throw new IllegalArgumentException("requests and new tokens must be positive");
            for (int s : streams) if (s < 1) throw new IllegalArgumentException("streams must be positive, got " + s);
        }
    }

    private final SpeculationRunner runner;
    private final Settings settings;

    public SpeculationBenchmark(SpeculationRunner runner, Settings settings) {
        this.runner = runner;
        this.settings = settings;
    }

    /**
     * Rows in the order of streams, then proposers. Each (streams, round) uses prompts of its own, so that
     * what a proposer learned from earlier traffic (the n-gram table) never covers the measured requests
     * themselves; rounds alternate the order of the proposers so that drifting machine load is shared out.
     */
    public List<SpeculationBenchmarkResult.Row> run() {
        int blocks = settings.streams().size() * settings.rounds();
        List<String> prompts = StoryPrompts.make(blocks * settings.requests() + WARMUP_REQUESTS);
        List<GenerationRequest> warmup = new ArrayList<>();
        for (String p : prompts.subList(blocks * settings.requests(), prompts.size())) warmup.add(GenerationRequest.greedy(p, WARMUP_TOKENS));

        double previous = 0;
        for (int round = 0; settings.warmupRounds() > 0 && round < MAX_WARMUP_ROUNDS; round++) {
            double tokS = measure(NoneProposer.NAME, 1, warmup).tokS();
            if (round >= settings.warmupRounds() && Math.abs(tokS - previous) < STABLE_SPEED * tokS) break;
            previous = tokS;
        }

        List<SpeculationBenchmarkResult.Row> rows = new ArrayList<>();
        for (int si = 0; si < settings.streams().size(); si++) {
            int streams = settings.streams().get(si);
            for (String proposer : settings.proposers()) measure(proposer, Math.min(streams, WARMUP_REQUESTS), warmup);
            Map<String, Measured> measured = new HashMap<>();
            for (int round = 0; round < settings.rounds(); round++) {
                int block = si * settings.rounds() + round;
                List<GenerationRequest> requests = new ArrayList<>();
                for (String p : prompts.subList(block * settings.requests(), (block + 1) * settings.requests())) {
                    requests.add(GenerationRequest.greedy(p, settings.newTokens()));
                }
                List<String> order = new ArrayList<>(settings.proposers());
                if (round % 2 == 1) java.util.Collections.reverse(order);
                for (String proposer : order) measured.merge(proposer, measure(proposer, streams, requests), Measured::plus);
            }
            Measured none = measured.get(NoneProposer.NAME);
            for (String proposer : settings.proposers()) {
                Measured m = measured.get(proposer);
                double speedup = none == null ? Double.NaN : m.tokS() / none.tokS();
                Boolean lossless = none == null ? null : sameOutputs(m.results(), none.results());
                rows.add(new SpeculationBenchmarkResult.Row(proposer, runner.mode(), streams, m.stats().acceptanceRate(),
                        m.stats().tokensPerStep(), m.tokS(), speedup, lossless));
            }
        }
        return rows;
    }

    private record Measured(List<SpeculativeResult> results, SpeculationStats stats, long nanos) {
        double tokS() { return stats.tokens() * 1e9 / nanos; }

        Measured plus(Measured o) {
            List<SpeculativeResult> all = new ArrayList<>(results);
            all.addAll(o.results);
            return new Measured(all, stats.plus(o.stats), nanos + o.nanos);
        }
    }

    private Measured measure(String proposer, int streams, List<GenerationRequest> requests) {
        List<SpeculativeResult> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int from = 0; from < requests.size(); from += streams) {
            results.addAll(runner.run(proposer, requests.subList(from, Math.min(from + streams, requests.size()))));
        }
        long nanos = System.nanoTime() - start;
        SpeculationStats total = SpeculationStats.empty(proposer);
        for (SpeculativeResult r : results) total = total.plus(r.stats());
        return new Measured(results, total, nanos);
    }

    private static boolean sameOutputs(List<SpeculativeResult> a, List<SpeculativeResult> b) {
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i).generation().tokens(), b.get(i).generation().tokens())) return false;
        }
        return true;
    }
}
