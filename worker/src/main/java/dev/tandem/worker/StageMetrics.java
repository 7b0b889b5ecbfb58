package dev.tandem.worker;

import akka.actor.typed.ActorSystem;
import dev.tandem.protocol.metrics.Gauge;
import dev.tandem.protocol.metrics.Histogram;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;

/**
 * A stage's series in its node's metrics registry (labels: model, layers "FROM-TO"). Values are pushed by
 * the stage actor after each step or release, so nothing reads the actor's state from another thread.
 */
final class StageMetrics {

    static final String STEP_LATENCY = "tandem_stage_step_latency_ms";
    static final String KV_BYTES = "tandem_stage_kv_bytes";
    static final String SEQUENCES = "tandem_stage_sequences";

    private final Histogram.Series stepLatency;
    private final Gauge kvBytes;
    private final Gauge sequences;
    private final String model;
    private final String layers;

    StageMetrics(ActorSystem<?> system, String model, int fromLayer, int toLayer) {
        MetricsRegistry registry = NodeMetrics.of(system);
        this.model = model;
        this.layers = fromLayer + "-" + toLayer;
        this.stepLatency = registry.histogram(STEP_LATENCY, "Forward time of one step on a stage",
                MetricsRegistry.LATENCY_MS_BUCKETS, "model", "layers").labels(model, layers);
        this.kvBytes = registry.gauge(KV_BYTES, "Bytes of KV cache pages in use on a stage", "model", "layers");
        this.sequences = registry.gauge(SEQUENCES, "Sequences with KV entries on a stage", "model", "layers");
        cache(0, 0);
    }

    void step(double millis, long kvBytesUsed, int sequenceCount) {
        stepLatency.observe(millis);
        cache(kvBytesUsed, sequenceCount);
    }

    void cache(long kvBytesUsed, int sequenceCount) {
        kvBytes.set(kvBytesUsed, model, layers);
        sequences.set(sequenceCount, model, layers);
    }

    /** A stopped stage's gauges disappear (its histogram keeps its counts, as Prometheus counters do). */
    void remove() {
        kvBytes.remove(model, layers);
        sequences.remove(model, layers);
    }
}
