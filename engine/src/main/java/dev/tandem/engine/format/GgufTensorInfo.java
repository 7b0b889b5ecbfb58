package dev.tandem.engine.format;

import dev.tandem.engine.tensor.TensorType;

import java.util.Arrays;
import java.util.Optional;

/**
 * A tensor's entry in a GGUF file.
 *
 * @param name     tensor name, like {@code blk.0.attn_q.weight}
 * @param dims     ggml dimensions, fastest-varying first: a matrix of R rows and C columns is {@code [C, R]}
 * @param ggmlType the GGML type id as stored (it may be one Tandem cannot read)
 * @param offset   byte offset of the data, relative to the file's data section
 */
public record GgufTensorInfo(String name, long[] dims, int ggmlType, long offset) {

    public GgufTensorInfo {
        dims = dims.clone();
    }

    @Override
    public long[] dims() { return dims.clone(); }

    public int rank() { return dims.length; }

    public long dim(int i) { return dims[i]; }

    /** The storage type, empty when Tandem does not know the GGML type. */
    public Optional<TensorType> type() {
        return TensorType.ofGgmlId(ggmlType);
    }

    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** "[288, 32000]", for messages. */
    public String shape() {
        return Arrays.toString(dims);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && t.name.equals(name) && Arrays.equals(t.dims, dims)
                && t.ggmlType == ggmlType && t.offset == offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return name + " " + type().map(Enum::name).orElse("ggml type " + ggmlType) + " " + shape() + " @" + offset;
    }
}
