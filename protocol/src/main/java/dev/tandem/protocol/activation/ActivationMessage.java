package dev.tandem.protocol.activation;

/**
 * Marker for messages that carry an {@link ActivationBatch} (hidden states travelling from stage to
 * stage), bound to {@link ArrowActivationSerializer} in {@code reference.conf}.
 *
 * <p>Such a message is written as a small Kryo envelope for its routing fields (so its class must be
 * listed in {@code tandem.serialization.kryo.registrations}, like any internal message) in which
 * every {@code ActivationBatch} is embedded as an Arrow IPC stream. The bulk of the bytes is thus
 * Arrow, under the larger {@code tandem.serialization.max-activation-bytes} limit. Do not also
 * implement {@link dev.tandem.protocol.KryoMessage}: the binding would be ambiguous.
 */
public interface ActivationMessage {
}
