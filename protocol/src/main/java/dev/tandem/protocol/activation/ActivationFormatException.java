package dev.tandem.protocol.activation;

/**
 * An activation batch could not be encoded or decoded: corrupted or truncated bytes, a schema that
 * is not the activation schema, inconsistent row counts, or a size over the configured limit.
 */
public final class ActivationFormatException extends RuntimeException {

  public ActivationFormatException(String message) {
    super(message);
  }

  public ActivationFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
