# Generates ggml reference vectors with gguf-py (llama.cpp's Python package), for Tandem's tests.
import numpy as np
from gguf import quants, GGMLQuantizationType as T
rng = np.random.default_rng(42)
x = (rng.standard_normal(4 * 256) * rng.uniform(0.01, 3.0, size=4 * 256 // 32).repeat(32)).astype(np.float32)
x[5] = 0.0; x[32:64] = 0.0  # a zero block
x.tofile("input.f32")
for name, t in [("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("f16", T.F16), ("bf16", T.BF16)]:
    q = quants.quantize(x.reshape(1, -1), t)
    q.tofile(name + ".bytes")
    quants.dequantize(q, t).astype(np.float32).tofile(name + ".dequantized.f32")
def blocks(n, nbytes, d_offsets):
    b = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    for off in d_offsets:
        d = rng.uniform(0.001, 0.05, size=n).astype(np.float16).view(np.uint8).reshape(n, 2)
        b[:, off:off + 2] = d
    return b
for name, t, nbytes, offs in [("q4_k", T.Q4_K, 144, [0, 2]), ("q6_k", T.Q6_K, 210, [208])]:
    b = blocks(4, nbytes, offs)
    b.tofile(name + ".bytes")
    quants.dequantize(b.reshape(1, -1), t).astype(np.float32).tofile(name + ".dequantized.f32")
