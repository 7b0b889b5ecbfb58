package dev.tandem.engine.model;

/** The default model could not be fetched; the message says why and what to do about it. */
public class ModelFetchException extends RuntimeException {

    public ModelFetchException(String message) {
        super(message);
    }

    public ModelFetchException(String message, Throwable cause) {
        super(message, cause);
    }
}
