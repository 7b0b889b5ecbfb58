package dev.tandem.coordinator.api;

import akka.NotUsed;
import akka.stream.javadsl.Source;

import java.util.List;
import java.util.Optional;

/**
 * What the public gateway (gRPC) needs from the serving side, as plain Java: the models served and
 * a stream of generation events per request. The cluster implementation shards requests over the
 * worker pipeline; the gateway only maps protobuf to and from these types.
 *
 * <p>Failures before or during generation fail the stream with {@link GenerationRejected}, which
 * carries the status to report. Cancelling the stream (the client went away) frees the sequence
 * everywhere, including its KV caches on every stage.
 */
public interface InferenceBackend {

    /** The models this backend serves, with their readiness. */
    List<ModelDescriptor> models();

    /** A served model by name; the name "default" means the default model. */
    Optional<ModelDescriptor> model(String name);

    /** Token ids of {@code text} for a model, as the model sees it (with BOS when asked). */
    int[] tokenize(String model, String text, boolean addBos);

    /** The text pieces of token ids (for Tokenize responses). */
    List<String> pieces(String model, int[] tokens);

    /** Starts generating; the stream emits text deltas and ends with one {@link GenerationEvent.Finished}. */
    Source<GenerationEvent, NotUsed> generate(GenerationSpec spec);
}
