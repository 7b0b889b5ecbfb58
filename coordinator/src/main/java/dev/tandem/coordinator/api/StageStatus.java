package dev.tandem.coordinator.api;

/**
 * One pipeline stage as the cluster reports it (for status pages, {@code tandem ctl status} and tests).
 *
 * @param model         the model whose layers the stage runs
 * @param workerAddress the Akka address of the worker node that runs it
 * @param fromLayer     first layer of the range
 * @param toLayer       end of the range (exclusive)
 * @param kvBytesUsed   bytes of the stage's KV cache pages in use
 * @param sequences     sequences with KV entries on the stage
 */
public record StageStatus(String model, String workerAddress, int fromLayer, int toLayer, long kvBytesUsed,
                          int sequences) {
}
