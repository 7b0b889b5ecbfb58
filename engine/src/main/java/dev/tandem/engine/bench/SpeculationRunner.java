package dev.tandem.engine.bench;

import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.spec.SpeculativeResult;

import java.util.List;

/**
 * Where {@link SpeculationBenchmark} runs its requests: in this process ({@code local}), or through a
 * cluster (added by the cluster side, same contract). Requests of one call run as concurrent streams.
 */
public interface SpeculationRunner extends AutoCloseable {

    /** The mode reported in the results ({@code local}, {@code cluster}). */
    String mode();

    /** Runs the requests as concurrent streams with the named proposer; results in request order. */
    List<SpeculativeResult> run(String proposer, List<GenerationRequest> requests);

    @Override
    default void close() {}
}
