/** Low-latency fork-join for the parallel sections of a forward pass ({@link dev.tandem.engine.parallel.ParallelRunner}). */
package dev.tandem.engine.parallel;
