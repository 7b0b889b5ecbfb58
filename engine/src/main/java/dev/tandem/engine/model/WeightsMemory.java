package dev.tandem.engine.model;

import java.util.Arrays;
import java.util.Locale;

/**
 * Where a stage's weights live while it runs ({@code tandem.engine.weights-memory}).
 * {@link #HUGE_PAGES}: copied once, at load, into anonymous memory on 2 MB transparent huge pages (off the
 * heap; the stage's own layers only), falling back to the mapping when the host cannot; the matrix products
 * stream every weight each step, and on 4 KB pages of the mapped file they measured TLB-bound.
 * {@link #MAPPED}: read in place from the memory-mapped model file (page cache, 4 KB pages, nothing copied).
 */
public enum WeightsMemory {
    HUGE_PAGES("huge-pages"),
    MAPPED("mapped");

    private final String configName;

    WeightsMemory(String configName) {
        this.configName = configName;
    }

    /** The value as written in configuration. */
    public String configName() { return configName; }

    /** Parses a configuration value ({@code huge-pages} or {@code mapped}, case-insensitive). */
    public static WeightsMemory parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        for (WeightsMemory m : values()) {
            if (m.configName.equals(v)) return m;
        }
        throw new IllegalArgumentException("weights memory must be one of "
                + Arrays.stream(values()).map(WeightsMemory::configName).toList() + ", got '" + value + "'");
    }
}
