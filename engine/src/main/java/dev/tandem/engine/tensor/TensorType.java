package dev.tandem.engine.tensor;

/**
 * Storage types of weight tensors, with the GGML type ids that GGUF files use.
 * Quantized types store blocks of {@link #blockSize()} values in {@link #blockBytes()} bytes.
 * {@link #INT8_ROWS} is no file type: the in-memory int8 copy of {@link PackedInt8Matrix} (one byte per value plus a
 * float scale per row), whose products approximate the float32 ones.
 */
public enum TensorType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q8_0(8, 32, 34),
    Q4_K(12, 256, 144),
    Q6_K(14, 256, 210),
    BF16(30, 1, 2),
    /** No GGML id: never read from or written to a file. */
    INT8_ROWS(-1, 1, 1);

    private final int ggmlId;
    private final int blockSize;
    private final int blockBytes;

    TensorType(int ggmlId, int blockSize, int blockBytes) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    public int ggmlId() { return ggmlId; }

    public int blockSize() { return blockSize; }

    public int blockBytes() { return blockBytes; }

    /** Bytes taken by {@code count} values; count must be a multiple of the block size. */
    public long bytesFor(long count) {
        if (count % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs a multiple of " + blockSize + " values, got " + count);
        }
        return count / blockSize * blockBytes;
    }

    /** The type with this GGML id, or empty for ids Tandem does not read. */
    public static java.util.Optional<TensorType> ofGgmlId(int id) {
        for (TensorType t : values()) {
            if (t.ggmlId == id && id >= 0) return java.util.Optional.of(t);
        }
        return java.util.Optional.empty();
    }
}
