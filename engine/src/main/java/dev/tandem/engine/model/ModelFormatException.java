package dev.tandem.engine.model;

/** A model or tokenizer file that cannot be used, with a message that says which file and why. */
public class ModelFormatException extends RuntimeException {

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
