package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

import java.util.ArrayList;
import java.util.List;

/**
 * Picks the best proposer per sequence from what it observes: each candidate is tried for
 * {@link #EXPLORE_STEPS} steps, then the one with the most tokens per unit cost (tokens output per step,
 * over 1 + its draft time relative to a target step) is used, and the least recently tried other candidate
 * gets one step every {@link #REEXPLORE_INTERVAL} steps so a change in the traffic is noticed. Deterministic,
 * so runs reproduce. Candidates that sit out resynchronize their caches when used again.
 */
public final class AutoProposer implements Proposer {

    public static final String NAME = "auto";
    public static final int EXPLORE_STEPS = 3;
    public static final int REEXPLORE_INTERVAL = 24;
    private static final double SCORE_SMOOTHING = 0.25;

    private final Proposer[] candidates;
    private final SpeculationCosts costs;
    private final double[] score;
    private final int[] tries;
    private final long[] lastTried;
    private long steps;
    private int current = -1;
    private long currentDraftNanos;

    public AutoProposer(List<Proposer> candidates, SpeculationCosts costs) {
        if (candidates.isEmpty()) throw new IllegalArgumentException("auto needs at least one candidate proposer");
        this.candidates = candidates.toArray(Proposer[]::new);
        this.costs = costs;
        this.score = new double[this.candidates.length];
        this.tries = new int[this.candidates.length];
        this.lastTried = new long[this.candidates.length];
    }

    @Override
    public String name() { return NAME; }

    /** The candidate used for the last proposal (or the best so far before any). */
    public String currentName() { return candidates[current < 0 ? best() : current].name(); }

    @Override
    public void propose(TokenHistory history, int maxDrafts, boolean withProbabilities, Draft draft) {
        steps++;
        current = choose();
        tries[current]++;
        lastTried[current] = steps;
        long start = System.nanoTime();
        candidates[current].propose(history, maxDrafts, withProbabilities, draft);
        currentDraftNanos = System.nanoTime() - start;
    }

    private int choose() {
        for (int i = 0; i < candidates.length; i++) if (tries[i] < EXPLORE_STEPS) return i;
        int best = best();
        if (candidates.length > 1 && steps % REEXPLORE_INTERVAL == 0) {
            int oldest = -1;
            for (int i = 0; i < candidates.length; i++) {
                if (i != best && (oldest < 0 || lastTried[i] < lastTried[oldest])) oldest = i;
            }
            return oldest;
        }
        return best;
    }

    private int best() {
        int best = 0;
        for (int i = 1; i < candidates.length; i++) if (score[i] > score[best]) best = i;
        return best;
    }

    @Override
    public void observe(TokenHistory history, int acceptedDrafts, int appended) {
        if (current < 0) return;
        candidates[current].observe(history, acceptedDrafts, appended);
        double step = costs.stepNanos();
        double cost = 1 + (step > 0 ? currentDraftNanos / step : 0);
        double value = (acceptedDrafts + 1) / cost;
        score[current] = tries[current] == 1 ? value : score[current] + SCORE_SMOOTHING * (value - score[current]);
    }

    @Override
    public void close() {
        for (Proposer p : candidates) p.close();
    }

    /** Auto over the given candidate factories (each sequence gets one proposer of each). */
    public static ProposerFactory factory(List<ProposerFactory> candidates, SpeculationCosts costs) {
        List<ProposerFactory> list = List.copyOf(candidates);
        return new ProposerFactory() {
            @Override public String name() { return NAME; }

            @Override public Proposer open(long seqId, SamplerSettings sampling) {
                List<Proposer> proposers = new ArrayList<>();
                for (ProposerFactory f : list) proposers.add(f.open(seqId, sampling));
                return new AutoProposer(proposers, costs);
            }

            @Override public void close() {
                for (ProposerFactory f : list) f.close();
            }
        };
    }
}
