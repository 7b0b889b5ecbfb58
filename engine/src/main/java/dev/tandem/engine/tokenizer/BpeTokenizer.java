package dev.tandem.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * SentencePiece-style BPE with byte fallback, token for token what llama2.c's {@code run.c}
 * produces: optional BOS, a dummy-prefix space before non-empty text, one token per UTF-8
 * codepoint (or its bytes' {@code <0xNN>} tokens when the codepoint is no piece), then greedy
 * highest-score pair merges (see {@link BpeMerger}), optional EOS.
 *
 * <p>Only normal and user-defined pieces can be produced from text: control, unknown, unused and
 * byte pieces are left out of the lookup, so typing {@code "<s>"} or {@code "<0x41>"} never yields
 * those tokens. (run.c looks up every piece; with llama2.c's vocabularies the results agree, and
 * this also keeps an exporter's duplicate spelling of a byte token, like a raw {@code " "}, from
 * shadowing the real piece.) Instances are immutable and thread-safe.
 *
 * <p>Pieces must spell spaces as spaces, as llama2.c's export does: a reader of SentencePiece
 * models or GGUF vocabularies replaces U+2581 ({@code ▁}) with {@code ' '} when it builds the
 * {@link Vocabulary}.
 */
public final class BpeTokenizer implements Tokenizer {

    private static final String DUMMY_PREFIX = " ";
    private static final int BYTE_VALUES = 256;
    private static final byte[] EMPTY = new byte[0];

    private final Vocabulary vocab;
    private final Map<String, Integer> textPieces;
    private final int[] byteTokens = new int[BYTE_VALUES];
    /** What each token prints in general (the after-BOS space rule is applied on top). */
    private final byte[][] tokenBytes;
    private final BpeMerger merger;

    public BpeTokenizer(Vocabulary vocab) {
        this.vocab = vocab;
        int n = vocab.size();
        this.textPieces = HashMap.newHashMap(n);
        this.tokenBytes = new byte[n][];
        Arrays.fill(byteTokens, -1);
        for (int id = 0; id < n; id++) {
            String piece = vocab.pieces().get(id);
            int type = vocab.tokenTypes()[id];
            int byteValue = byteValue(piece);
            if (type == Vocabulary.TYPE_BYTE && byteValue >= 0) {
                if (byteTokens[byteValue] < 0) byteTokens[byteValue] = id;
                tokenBytes[id] = new byte[] {(byte) byteValue};
            } else if (type == Vocabulary.TYPE_CONTROL || type == Vocabulary.TYPE_UNUSED) {
                tokenBytes[id] = EMPTY;
            } else {
                tokenBytes[id] = piece.getBytes(StandardCharsets.UTF_8);
                if (type != Vocabulary.TYPE_UNKNOWN) textPieces.putIfAbsent(piece, id);
            }
        }
        for (int b = 0; b < BYTE_VALUES; b++) {
            if (byteTokens[b] < 0) byteTokens[b] = vocab.unkId();
        }
        this.merger = new BpeMerger(this::mergedId, vocab.scores());
    }

    /** The tokenizer of a llama2.c {@code tokenizer.bin} with {@code vocabSize} tokens. */
    public static BpeTokenizer fromLlama2c(Path tokenizerBin, int vocabSize) {
        return new BpeTokenizer(Llama2cVocabularyReader.read(tokenizerBin, vocabSize));
    }

    public Vocabulary vocabulary() { return vocab; }

    @Override
    public int vocabSize() { return vocab.size(); }

    @Override
    public int bosId() { return vocab.bosId(); }

    @Override
    public int eosId() { return vocab.eosId(); }

    @Override
    public int[] encode(String text, boolean bos, boolean eos) {
        int[] merged = text.isEmpty() ? new int[0] : merger.merge(initialTokens(DUMMY_PREFIX + text));
        int extra = (bos ? 1 : 0) + (eos ? 1 : 0);
        int[] out = new int[merged.length + extra];
        int k = 0;
        if (bos) out[k++] = vocab.bosId();
        System.arraycopy(merged, 0, out, k, merged.length);
        k += merged.length;
        if (eos) out[k] = vocab.eosId();
        return out;
    }

    @Override
    public byte[] decodeBytes(int previous, int token) {
        checkToken(token);
        byte[] bytes = tokenBytes[token];
        // SentencePiece's dummy prefix: the first word after BOS carries a space the text never had.
        if (previous == vocab.bosId() && bytes.length > 0 && bytes[0] == ' '
                && vocab.tokenTypes()[token] != Vocabulary.TYPE_BYTE) {
            return Arrays.copyOfRange(bytes, 1, bytes.length);
        }
        return bytes.clone();
    }

    /** The text of a whole sequence, read as if it followed BOS (so the dummy-prefix space goes). */
    public String decode(int[] tokens) {
        return decode(vocab.bosId(), tokens);
    }

    /** The text {@code tokens} add after token {@code previous}; partial UTF-8 at the end is replaced. */
    public String decode(int previous, int[] tokens) {
        var out = new java.io.ByteArrayOutputStream();
        for (int token : tokens) {
            out.writeBytes(decodeBytes(previous, token));
            previous = token;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** One token per codepoint, or its UTF-8 bytes' tokens when the codepoint is no piece. */
    private int[] initialTokens(String text) {
        int[] ids = new int[text.length() * 3];
        int n = 0;
        for (int i = 0; i < text.length(); ) {
            int end = i + Character.charCount(text.codePointAt(i));
            String codepoint = text.substring(i, end);
            Integer id = textPieces.get(codepoint);
            if (id != null) {
                ids[n++] = id;
            } else {
                for (byte b : codepoint.getBytes(StandardCharsets.UTF_8)) ids[n++] = byteTokens[b & 0xFF];
            }
            i = end;
        }
        return Arrays.copyOf(ids, n);
    }

    private int mergedId(int left, int right) {
        Integer id = textPieces.get(vocab.pieces().get(left).concat(vocab.pieces().get(right)));
        return id == null ? -1 : id;
    }

    private void checkToken(int token) {
        if (token < 0 || token >= vocab.size()) {
            throw new IllegalArgumentException("token id " + token + " outside vocabulary of " + vocab.size());
        }
    }

    /** The byte a {@code <0xNN>} piece stands for, or -1 for any other piece. */
    static int byteValue(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        char hi = piece.charAt(3);
        char lo = piece.charAt(4);
        if (!HexFormat.isHexDigit(hi) || !HexFormat.isHexDigit(lo)) return -1;
        return HexFormat.fromHexDigits(piece, 3, 5);
    }
}
