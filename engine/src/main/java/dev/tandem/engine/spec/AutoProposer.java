package dev.tandem.engine.spec;

import dev.tandem.engine.sampling.SamplerSettings;

import java.util.ArrayList;
import java.util.List;

/**
 * Picks the best proposer per sequence from what it observes: each candidate is tried for
 * {@link #EXPLORE_STEPS} steps, then the one with the most tokens per unit cost (tokens output per step,
 * over 1 + its draft time relative to a target step) is used. A candidate that sits out is tried again for one
 * step after {@link #REEXPLORE_INTERVAL} steps, and each time it is still not the best its wait doubles (up to
 * {@link #MAX_REEXPLORE_INTERVAL}), so a change in the traffic is noticed without paying often for a
 * candidate that keeps losing (a stateful one also pays a cache catch-up when it returns). Deterministic, so
 * runs reproduce.
 */
public final class AutoProposer implements Proposer {

    public static final String NAME = "auto";
    public static final int EXPLORE_STEPS = 3;
    public static final int REEXPLORE_INTERVAL = 24;
    public static final int MAX_REEXPLORE_INTERVAL = 384;
    private static final double SCORE_SMOOTHING = 0.25;

    private final Proposer[] candidates;
    private final SpeculationCosts costs;
    private final double[] score;
    private final int[] tries;
    private final long[] lastTried;
    private final int[] retryInterval;
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
        this.retryInterval = new int[this.candidates.length];
        java.util.Arrays.fill(retryInterval, REEXPLORE_INTERVAL);
    }

    @Override
    public String name() { return NAME; }

    /** The candidate used for the last proposal (or the best so far before any). */
    public String currentName() { return candidates[current < 0 ? best() : current].name(); }

    @Override
    public int lastRowsFed() { return current < 0 ? 0 : candidates[current].lastRowsFed(); }

    @Override
    public long lastFirstDraftNanos() { return current < 0 ? -1 : candidates[current].lastFirstDraftNanos(); }

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
        for (int i = 0; i < candidates.length; i++) {
            if (i != best && steps - lastTried[i] >= retryInterval[i]) return i;
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
        if (tries[current] > EXPLORE_STEPS) {
            retryInterval[current] = best() == current ? REEXPLORE_INTERVAL
                    : Math.min(MAX_REEXPLORE_INTERVAL, retryInterval[current] * 2);
        }
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

            @Override public Proposer open(long seqId, SamplerSettings sampling, int[] prompt, String trafficClass) {
                List<Proposer> proposers = new ArrayList<>();
                for (ProposerFactory f : list) proposers.add(f.open(seqId, sampling, prompt, trafficClass));
                return new AutoProposer(proposers, costs);
            }

            @Override public void close() {
                for (ProposerFactory f : list) f.close();
            }
        };
    }
}
