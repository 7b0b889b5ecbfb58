package dev.tandem.ops;

import dev.tandem.trainer.traffic.TrafficGenerator;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** The --traffic flag: one's own prompts instead of the built-in prompt families. */
public final class TrafficOptions {

    /** Seed of the built-in families' prompt order. */
    static final long SEED = 1;

    @Option(names = "--traffic", paramLabel = "FILE",
            description = "Prompts, one per line, optionally 'class<TAB>prompt' (default: the built-in families animals, space, cooking, stories).")
    Path traffic;

    TrafficGenerator generator() {
        if (traffic == null) return TrafficGenerator.builtIn(SEED);
        if (!Files.isRegularFile(traffic)) throw CommandFailure.usage("--traffic: no such file " + traffic);
        try {
            return TrafficGenerator.fromFile(traffic);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.failed(e.getMessage());
        }
    }
}
