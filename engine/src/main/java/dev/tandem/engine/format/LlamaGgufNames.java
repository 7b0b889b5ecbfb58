package dev.tandem.engine.format;

/**
 * The metadata keys and tensor names of a llama-architecture GGUF file, as llama.cpp writes them.
 * GGUF pieces spell a space as U+2581 (SentencePiece's {@code ▁}); Tandem's vocabularies spell it
 * as a space, so readers and writers translate.
 */
final class LlamaGgufNames {

    static final String ARCHITECTURE = "general.architecture";
    static final String LLAMA = "llama";
    static final String NAME = "general.name";
    static final String FILE_TYPE = "general.file_type";
    static final String QUANTIZATION_VERSION = "general.quantization_version";

    static final String EMBEDDING_LENGTH = "llama.embedding_length";
    static final String FEED_FORWARD_LENGTH = "llama.feed_forward_length";
    static final String BLOCK_COUNT = "llama.block_count";
    static final String HEAD_COUNT = "llama.attention.head_count";
    static final String HEAD_COUNT_KV = "llama.attention.head_count_kv";
    static final String CONTEXT_LENGTH = "llama.context_length";
    static final String RMS_EPSILON = "llama.attention.layer_norm_rms_epsilon";
    static final String ROPE_FREQ_BASE = "llama.rope.freq_base";
    static final String ROPE_DIMENSION_COUNT = "llama.rope.dimension_count";
    static final String VOCAB_SIZE = "llama.vocab_size";

    static final String TOKENIZER_MODEL = "tokenizer.ggml.model";
    static final String TOKENIZER_LLAMA = "llama";
    static final String TOKENS = "tokenizer.ggml.tokens";
    static final String SCORES = "tokenizer.ggml.scores";
    static final String TOKEN_TYPES = "tokenizer.ggml.token_type";
    static final String BOS_ID = "tokenizer.ggml.bos_token_id";
    static final String EOS_ID = "tokenizer.ggml.eos_token_id";
    static final String UNK_ID = "tokenizer.ggml.unknown_token_id";

    static final String TOKEN_EMBEDDING = "token_embd.weight";
    static final String OUTPUT_NORM = "output_norm.weight";
    static final String OUTPUT = "output.weight";

    /** SentencePiece's visible space. */
    static final String SPACE_MARK = "\u2581";

    /** llama2.c's defaults where a file leaves them out. */
    static final float DEFAULT_RMS_EPSILON = 1e-5f;
    static final float DEFAULT_ROPE_FREQ_BASE = 10000f;

    private LlamaGgufNames() {}

    static String attnNorm(int layer) { return block(layer, "attn_norm"); }

    static String attnQ(int layer) { return block(layer, "attn_q"); }

    static String attnK(int layer) { return block(layer, "attn_k"); }

    static String attnV(int layer) { return block(layer, "attn_v"); }

    static String attnOutput(int layer) { return block(layer, "attn_output"); }

    static String ffnNorm(int layer) { return block(layer, "ffn_norm"); }

    /** w1, the gate projection. */
    static String ffnGate(int layer) { return block(layer, "ffn_gate"); }

    /** w2, the down projection. */
    static String ffnDown(int layer) { return block(layer, "ffn_down"); }

    /** w3, the up projection. */
    static String ffnUp(int layer) { return block(layer, "ffn_up"); }

    private static String block(int layer, String tensor) {
        return "blk." + layer + "." + tensor + ".weight";
    }
}
