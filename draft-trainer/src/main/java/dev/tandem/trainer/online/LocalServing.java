package dev.tandem.trainer.online;

import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.ProposerFactory;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.engine.spec.VerificationListener;
import dev.tandem.engine.tokenizer.Tokenizer;
import dev.tandem.trainer.traffic.TrafficGenerator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * In-process serving for the online loop: a {@link SpeculativeGenerator} whose requests of one burst run
 * batched, with the traffic class of each sequence known to the proposer factory and the recorder, and
 * the load added to a shared {@link ServingLoad} for the idle governors. Serving runs on the caller's thread.
 */
final class LocalServing implements AutoCloseable {

    private final SpeculativeGenerator generator;
    private final Map<Long, String> classes;
    private final ServingLoad load;

    private final java.util.function.BiConsumer<Long, String> tagger;
    private final AcceptanceCounter counter;

    /** Per-token acceptance counts of sequence {@code seqId} of the last burst. */
    AcceptanceCounter.Counts counts(long seqId) { return counter.counts(seqId); }

    /**
     * @param listener observes verification (the recorder), or null
     * @param tagger   told each sequence's class before it starts (the recorder's tags), or null
     */
    LocalServing(ModelWeights weights, Tokenizer tokenizer, ParallelRunner runner, ProposerFactory proposers, SpeculationOptions options,
                 Map<Long, String> classes, VerificationListener listener, java.util.function.BiConsumer<Long, String> tagger,
                 ServingLoad load) {
        this.classes = classes;
        this.load = load;
        this.generator = new SpeculativeGenerator(weights, tokenizer, runner, proposers, options);
        this.counter = new AcceptanceCounter(listener);
        generator.decoder().setVerificationListener(counter);
        this.tagger = tagger;
    }

    /** The class of a running sequence (sequence ids are indices within the burst). */
    String classOf(long seqId) { return classes.get(seqId); }

    /** Marks requests as arrived (queued) before they are served, so the governor sees load at once. */
    void arriving(int n) { load.arriving(n); }

    List<SpeculativeResult> serve(List<TrafficGenerator.Request> burst, int maxNewTokens) {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < burst.size(); i++) {
            classes.put((long) i, burst.get(i).trafficClass());
            if (tagger != null) tagger.accept((long) i, burst.get(i).trafficClass());
            requests.add(GenerationRequest.greedy(burst.get(i).prompt(), maxNewTokens));
        }
        load.started(burst.size());
        try {
            return generator.generateAll(requests, new ArrayList<>(Collections.nCopies(requests.size(), GenerationListener.NONE)));
        } finally {
            load.finished(burst.size());
        }
    }

    /** Serves one untagged, unrecorded request (outside the measurements). */
    void warmUp(String prompt, int maxNewTokens) {
        generator.generateAll(List.of(GenerationRequest.greedy(prompt, maxNewTokens)), List.of(GenerationListener.NONE));
    }

    @Override
    public void close() {
        generator.close();
    }
}
