package dev.tandem.engine.tokenizer;

/** Text to token ids and back, SentencePiece-style (llama2.c tokenizer.bin or GGUF metadata). */
public interface Tokenizer {

    int vocabSize();

    int bosId();

    int eosId();

    /** Token ids of {@code text}, optionally preceded by BOS and followed by EOS. */
    int[] encode(String text, boolean bos, boolean eos);

    /**
     * The bytes that token {@code token} adds to the output when it follows {@code previous}
     * (SentencePiece drops the leading space after BOS; byte tokens like {@code <0x0A>} become raw bytes).
     */
    byte[] decodeBytes(int previous, int token);
}
