package dev.tandem.engine.tokenizer;

import java.util.List;

/**
 * The data a SentencePiece-style BPE tokenizer is made from, whatever file it came from.
 *
 * @param pieces     token id to its text piece (byte-fallback tokens are spelled {@code <0xNN>})
 * @param scores     merge priority of each piece (higher merges first)
 * @param tokenTypes GGUF token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
 * @param bosId      beginning-of-sequence id
 * @param eosId      end-of-sequence id
 * @param unkId      unknown-token id
 */
public record Vocabulary(List<String> pieces, float[] scores, int[] tokenTypes, int bosId, int eosId, int unkId) {

    public static final int TYPE_NORMAL = 1;
    public static final int TYPE_UNKNOWN = 2;
    public static final int TYPE_CONTROL = 3;
    public static final int TYPE_USER_DEFINED = 4;
    public static final int TYPE_UNUSED = 5;
    public static final int TYPE_BYTE = 6;

    public Vocabulary {
        if (pieces.size() != scores.length || pieces.size() != tokenTypes.length) {
            throw new IllegalArgumentException("vocabulary arrays differ in length: " + pieces.size()
                    + " pieces, " + scores.length + " scores, " + tokenTypes.length + " types");
        }
    }

    public int size() { return pieces.size(); }
}
