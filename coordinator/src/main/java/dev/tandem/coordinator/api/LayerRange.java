package dev.tandem.coordinator.api;

/** Layers {@code from} (inclusive) to {@code to} (exclusive) of a model, as {@code status} prints them. */
public record LayerRange(String model, int from, int to) {}
