package dev.tandem.protocol;

/**
 * Marker for internal actor messages that cross JVM boundaries. Bound to
 * {@link dev.tandem.protocol.serialization.KryoSerializer} in this module's {@code reference.conf}.
 *
 * <p>A message type is serializable only when its class (and every class it contains that is not a
 * built-in) is listed in {@code tandem.serialization.kryo.registrations}: Kryo runs with registration
 * required, so bytes can never name an arbitrary class. Prefer records with immutable collections
 * ({@code List.copyOf}, {@code Map.copyOf}).
 *
 * <p>Messages that carry an {@link dev.tandem.protocol.activation.ActivationBatch} implement
 * {@link dev.tandem.protocol.activation.ActivationMessage} instead (never both).
 */
public interface KryoMessage {
}
