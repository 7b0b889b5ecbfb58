package dev.tandem.engine.model;

import java.util.Arrays;
import java.util.Locale;

/**
 * What the draft proposer's products read ({@code tandem.engine.draft-weights}). Both are copies of the draft's own
 * float32 arrays, made when a draft goes live, so a served draft never sees later training.
 * {@link #INT8}: one byte per weight and a scale per row ({@code dev.tandem.engine.tensor.PackedInt8Matrix}), a quarter of the bytes; a draft
 * token's products are approximations of the float32 ones, which only moves near-ties between proposals: the target
 * verifies every proposal, so the output is the same either way.
 * {@link #FLOAT32}: the float32 weights in the packed layout on huge pages, as a worker's stage holds the target.
 */
public enum DraftWeights {
    INT8("int8"),
    FLOAT32("float32");

    private final String configName;

    DraftWeights(String configName) {
        this.configName = configName;
    }

    /** The value as written in configuration. */
    public String configName() { return configName; }

    /** Parses a configuration value ({@code int8} or {@code float32}, case-insensitive). */
    public static DraftWeights parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        for (DraftWeights w : values()) {
            if (w.configName.equals(v)) return w;
        }
        throw new IllegalArgumentException("draft weights must be one of "
                + Arrays.stream(values()).map(DraftWeights::configName).toList() + ", got '" + value + "'");
    }
}
