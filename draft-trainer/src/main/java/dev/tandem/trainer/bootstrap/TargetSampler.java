package dev.tandem.trainer.bootstrap;

import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.engine.spec.SpeculationOptions;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.engine.tokenizer.Tokenizer;
import dev.tandem.trainer.sample.TrafficRecorder;
import dev.tandem.trainer.traffic.TrafficGenerator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Generates text with the target alone (greedy, several prompts batched per step) while a
 * {@link TrafficRecorder} records the target's distribution at every generated position: the offline
 * teacher data of a bootstrap draft.
 */
public final class TargetSampler implements AutoCloseable {

    private final SpeculativeGenerator generator;
    private final TrafficRecorder recorder;

    public TargetSampler(ModelWeights weights, Tokenizer tokenizer, ParallelRunner runner, TrafficRecorder recorder) {
        this.generator = new SpeculativeGenerator(weights, tokenizer, runner, NoneProposer.factory(), SpeculationOptions.fixed(0));
        this.generator.decoder().setVerificationListener(recorder);
        this.recorder = recorder;
    }

    /** Generates the requests {@code streams} at a time until done or the deadline; returns tokens generated. */
    public long generate(List<TrafficGenerator.Request> requests, int maxNewTokens, int streams, long deadlineNanos) {
        return generate(requests, maxNewTokens, streams, deadlineNanos, i -> SamplerSettings.greedy());
    }

    /**
     * {@link #generate}, request i (in list order) sampled with {@code sampling.apply(i)}: several continuations of
     * one prompt, each recorded.
     */
    public long generate(List<TrafficGenerator.Request> requests, int maxNewTokens, int streams, long deadlineNanos,
                         IntFunction<SamplerSettings> sampling) {
        long tokens = 0;
        for (int from = 0; from < requests.size() && System.nanoTime() < deadlineNanos; from += streams) {
            List<TrafficGenerator.Request> batch = requests.subList(from, Math.min(requests.size(), from + streams));
            List<GenerationRequest> gen = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                recorder.tag(i, batch.get(i).trafficClass());
                gen.add(new GenerationRequest(batch.get(i).prompt(), maxNewTokens, sampling.apply(from + i), List.of()));
            }
            for (SpeculativeResult r : generator.generateAll(gen, new ArrayList<>(Collections.nCopies(gen.size(), GenerationListener.NONE)))) {
                tokens += r.generation().tokens().length;
            }
        }
        return tokens;
    }

    @Override
    public void close() {
        generator.close();
    }
}
