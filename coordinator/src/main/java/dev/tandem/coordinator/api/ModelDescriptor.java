package dev.tandem.coordinator.api;

/**
 * A served model as clients see it.
 *
 * @param name          the name requests use
 * @param layers        transformer layers
 * @param dim           residual width
 * @param vocabSize     vocabulary size
 * @param contextLength maximum tokens per sequence (prompt plus generated)
 * @param quantization  weight type of the matrices, e.g. F32 or Q8_0
 * @param ready         true once every layer range has a live owner
 */
public record ModelDescriptor(String name, int layers, int dim, int vocabSize, int contextLength,
                              String quantization, boolean ready) {
}
