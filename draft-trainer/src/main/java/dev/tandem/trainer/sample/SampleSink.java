package dev.tandem.trainer.sample;

/** Where finished samples go (the replay buffers, or a test's list). Must be thread-safe. */
@FunctionalInterface
public interface SampleSink {
    void accept(DistillationSample sample);
}
