package dev.tandem.engine.tokenizer;

import dev.tandem.engine.model.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Reads llama2.c's {@code tokenizer.bin}: int32 max_token_length, then per token float32 score,
 * int32 byte length and that many UTF-8 bytes (all little-endian).
 *
 * <p>The format stores no token types, so llama2.c's fixed layout supplies them: id 0 is
 * {@code <unk>}, 1 is BOS, 2 is EOS, ids 3..258 are the 256 byte-fallback tokens, the rest are
 * normal pieces. Exporters spell the special pieces differently ({@code "\n<s>\n"}, raw bytes or
 * {@code <0xNN>}), so they are normalized to {@code <s>}, {@code </s>} and {@code <0xNN>}: the
 * spelling the {@link Vocabulary} contract (and GGUF) uses.
 */
public final class Llama2cVocabularyReader {

    public static final int UNK_ID = 0;
    public static final int BOS_ID = 1;
    public static final int EOS_ID = 2;
    /** Byte {@code b} is token {@code FIRST_BYTE_ID + b}. */
    public static final int FIRST_BYTE_ID = 3;
    public static final int BYTE_TOKEN_COUNT = 256;
    /** Smallest vocabulary that holds the specials and all byte tokens. */
    public static final int MIN_VOCAB_SIZE = FIRST_BYTE_ID + BYTE_TOKEN_COUNT;

    static final String UNK_PIECE = "<unk>";
    static final String BOS_PIECE = "<s>";
    static final String EOS_PIECE = "</s>";

    private static final int HEADER_BYTES = Integer.BYTES;
    private static final int TOKEN_HEADER_BYTES = Float.BYTES + Integer.BYTES;

    private Llama2cVocabularyReader() {}

    /** The {@code vocabSize} tokens of {@code tokenizerBin} (the model header says how many). */
    public static Vocabulary read(Path tokenizerBin, int vocabSize) {
        if (vocabSize < MIN_VOCAB_SIZE) {
            throw new ModelFormatException("vocabulary size " + vocabSize + " for " + tokenizerBin
                    + " is smaller than llama2.c's " + MIN_VOCAB_SIZE + " special and byte tokens");
        }
        ByteBuffer buf = ByteBuffer.wrap(readAll(tokenizerBin)).order(ByteOrder.LITTLE_ENDIAN);
        need(tokenizerBin, buf, HEADER_BYTES, "the header");
        int maxTokenLength = buf.getInt();
        if (maxTokenLength <= 0) {
            throw new ModelFormatException(tokenizerBin + " has an invalid max token length " + maxTokenLength);
        }
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        List<String> pieces = new ArrayList<>(vocabSize);
        float[] scores = new float[vocabSize];
        int[] types = new int[vocabSize];
        for (int id = 0; id < vocabSize; id++) {
            need(tokenizerBin, buf, TOKEN_HEADER_BYTES, "token " + id);
            scores[id] = buf.getFloat();
            int length = buf.getInt();
            if (length < 0 || length > maxTokenLength) {
                throw new ModelFormatException(tokenizerBin + ": token " + id + " has length " + length
                        + " (max token length " + maxTokenLength + ")");
            }
            need(tokenizerBin, buf, length, "the bytes of token " + id);
            ByteBuffer bytes = buf.slice(buf.position(), length);
            buf.position(buf.position() + length);
            types[id] = typeOf(id);
            pieces.add(switch (types[id]) {
                case Vocabulary.TYPE_UNKNOWN -> UNK_PIECE;
                case Vocabulary.TYPE_CONTROL -> id == BOS_ID ? BOS_PIECE : EOS_PIECE;
                case Vocabulary.TYPE_BYTE -> bytePiece(id - FIRST_BYTE_ID);
                default -> decode(tokenizerBin, id, bytes, utf8);
            });
        }
        return new Vocabulary(List.copyOf(pieces), scores, types, BOS_ID, EOS_ID, UNK_ID);
    }

    /** The conventional spelling of a byte-fallback token, e.g. {@code <0x0A>}. */
    public static String bytePiece(int b) {
        return "<0x" + HexFormat.of().withUpperCase().toHexDigits((byte) b) + ">";
    }

    private static int typeOf(int id) {
        if (id == UNK_ID) return Vocabulary.TYPE_UNKNOWN;
        if (id == BOS_ID || id == EOS_ID) return Vocabulary.TYPE_CONTROL;
        if (id < MIN_VOCAB_SIZE) return Vocabulary.TYPE_BYTE;
        return Vocabulary.TYPE_NORMAL;
    }

    private static String decode(Path file, int id, ByteBuffer bytes, CharsetDecoder utf8) {
        try {
            CharBuffer chars = utf8.reset().decode(bytes);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new ModelFormatException(file + ": token " + id + " is not valid UTF-8", e);
        }
    }

    private static void need(Path file, ByteBuffer buf, int bytes, String what) {
        if (buf.remaining() < bytes) {
            throw new ModelFormatException(file + " is truncated: " + buf.remaining() + " bytes left at offset "
                    + buf.position() + ", " + what + " needs " + bytes);
        }
    }

    private static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("tokenizer file not found: " + file);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read tokenizer file " + file + ": " + e.getMessage(), e);
        }
    }
}
