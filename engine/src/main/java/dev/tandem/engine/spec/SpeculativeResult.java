package dev.tandem.engine.spec;

import dev.tandem.engine.generate.GenerationResult;

/** A generation and what speculation did for it. */
public record SpeculativeResult(GenerationResult generation, SpeculationStats stats) {
}
