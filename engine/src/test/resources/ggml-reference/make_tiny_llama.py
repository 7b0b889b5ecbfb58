# Writes tiny-llama.gguf with llama.cpp's own Python writer (gguf-py), so that Tandem's tests read a
# GGUF file that Tandem did not write. Weight i of a tensor (row-major, flat) is ((i*37) % 101 - 50) / 64,
# exact in float32, so the Java test recomputes every value. Run: python make_tiny_llama.py
import numpy as np
import gguf
from gguf import GGUFWriter, GGMLQuantizationType as T
from gguf.quants import quantize

DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, CTX = 32, 64, 1, 2, 1, 16
pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["\u2581a", "\u2581story"]
types = [2, 3, 3] + [6] * 256 + [1, 1]
VOCAB = len(pieces)

def values(rows, cols):
    i = np.arange(rows * cols, dtype=np.int64)
    return (((i * 37) % 101 - 50) / 64).astype(np.float32).reshape(rows, cols)

w = GGUFWriter("tiny-llama.gguf", "llama")
w.add_name("tiny")
w.add_context_length(CTX)
w.add_embedding_length(DIM)
w.add_block_count(LAYERS)
w.add_feed_forward_length(HIDDEN)
w.add_head_count(HEADS)
w.add_head_count_kv(KV_HEADS)
w.add_layer_norm_rms_eps(1e-5)
w.add_rope_freq_base(10000.0)
w.add_rope_dimension_count(DIM // HEADS)
w.add_file_type(7)
w.add_tokenizer_model("llama")
w.add_token_list(pieces)
w.add_token_scores([float(-i) for i in range(VOCAB)])
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)

def add(name, rows, cols, qtype):
    v = values(rows, cols)
    if qtype == T.F32:
        w.add_tensor(name, v)
    else:
        q = quantize(v, qtype)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)

kv = DIM // HEADS * KV_HEADS
add("token_embd.weight", VOCAB, DIM, T.Q8_0)
w.add_tensor("blk.0.attn_norm.weight", values(1, DIM)[0])
add("blk.0.attn_q.weight", DIM, DIM, T.Q8_0)
add("blk.0.attn_k.weight", kv, DIM, T.F16)
add("blk.0.attn_v.weight", kv, DIM, T.BF16)
add("blk.0.attn_output.weight", DIM, DIM, T.Q4_0)
w.add_tensor("blk.0.ffn_norm.weight", values(1, DIM)[0])
add("blk.0.ffn_gate.weight", HIDDEN, DIM, T.Q8_0)
add("blk.0.ffn_down.weight", DIM, HIDDEN, T.F32)
add("blk.0.ffn_up.weight", HIDDEN, DIM, T.Q4_0)
w.add_tensor("output_norm.weight", values(1, DIM)[0])
add("output.weight", VOCAB, DIM, T.Q8_0)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
