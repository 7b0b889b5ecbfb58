package dev.tandem.engine.format;

import dev.tandem.engine.tensor.TensorType;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a GGUF version 3 file: metadata of any value type, then tensors, each aligned to
 * {@code general.alignment} (32 unless that key is set). Tensor bytes are streamed from a
 * {@link TensorBytes} callback when the file is written, so a model never has to fit in memory.
 */
public final class GgufWriter {

    /** Produces a tensor's bytes, exactly {@code type.bytesFor(elements)} of them, in ggml layout. */
    @FunctionalInterface
    public interface TensorBytes {
        void writeTo(OutputStream out) throws IOException;
    }

    private record PendingTensor(String name, TensorType type, long[] dims, long bytes, TensorBytes source) {}

    private static final int BUFFER_BYTES = 1 << 16;

    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final Map<String, PendingTensor> tensors = new LinkedHashMap<>();

    /** Sets a metadata key (replacing an earlier value of the same key). */
    public GgufWriter put(String key, GgufValue value) {
        Objects.requireNonNull(key);
        Objects.requireNonNull(value);
        if (key.equals(GgufFile.ALIGNMENT_KEY) && (value.type() != GgufType.UINT32
                || Long.bitCount((Long) value.value()) != 1)) {
            throw new IllegalArgumentException(GgufFile.ALIGNMENT_KEY + " must be a UINT32 power of two, got " + value);
        }
        metadata.put(key, value);
        return this;
    }

    /**
     * Adds a tensor with ggml dimensions {@code dims} (fastest-varying first: a matrix of R rows and
     * C columns is {@code [C, R]}) whose bytes {@code source} writes when the file is written.
     */
    public GgufWriter addTensor(String name, TensorType type, long[] dims, TensorBytes source) {
        if (dims.length < 1 || dims.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor " + name + " needs 1 to " + GgufFile.MAX_DIMS + " dimensions");
        }
        long elements = 1;
        for (long d : dims) {
            if (d <= 0) throw new IllegalArgumentException("tensor " + name + " has a non-positive dimension: " + Arrays.toString(dims));
            elements = Math.multiplyExact(elements, d);
        }
        if (dims[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor " + name + " " + Arrays.toString(dims) + ": " + type
                    + " needs a first dimension that is a multiple of " + type.blockSize());
        }
        if (tensors.containsKey(name)) throw new IllegalArgumentException("tensor " + name + " added twice");
        tensors.put(name, new PendingTensor(name, type, dims.clone(), type.bytesFor(elements), source));
        return this;
    }

    public GgufWriter addTensor(String name, TensorType type, long[] dims, byte[] bytes) {
        return addTensor(name, type, dims, out -> out.write(bytes));
    }

    /** A tensor whose bytes are already in ggml layout in a segment (copied in chunks, never whole). */
    public GgufWriter addTensor(String name, TensorType type, long[] dims, MemorySegment bytes) {
        return addTensor(name, type, dims, out -> {
            byte[] chunk = new byte[(int) Math.min(BUFFER_BYTES, bytes.byteSize())];
            for (long at = 0; at < bytes.byteSize(); at += chunk.length) {
                int n = (int) Math.min(chunk.length, bytes.byteSize() - at);
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, at, chunk, 0, n);
                out.write(chunk, 0, n);
            }
        });
    }

    /** Writes the file to {@code file} (not atomically: see ModelConverter for that). */
    public void write(Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), BUFFER_BYTES)) {
            write(out);
        }
    }

    public void write(OutputStream out) throws IOException {
        int alignment = metadata.containsKey(GgufFile.ALIGNMENT_KEY)
                ? (int) (long) (Long) metadata.get(GgufFile.ALIGNMENT_KEY).value() : GgufFile.DEFAULT_ALIGNMENT;
        LittleEndianBuffer header = new LittleEndianBuffer();
        header.int32(GgufFile.MAGIC);
        header.int32(GgufFile.VERSION);
        header.int64(tensors.size());
        header.int64(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            header.string(e.getKey());
            header.int32(e.getValue().type().id());
            value(header, e.getValue());
        }
        long dataOffset = 0;
        for (PendingTensor t : tensors.values()) {
            header.string(t.name);
            header.int32(t.dims.length);
            for (long d : t.dims) header.int64(d);
            header.int32(t.type.ggmlId());
            header.int64(dataOffset);
            dataOffset = GgufFile.align(dataOffset + t.bytes, alignment);
        }
        header.padTo(alignment);
        header.writeTo(out);

        long written = 0;
        for (PendingTensor t : tensors.values()) {
            CountingStream counted = new CountingStream(out);
            t.source.writeTo(counted);
            if (counted.count != t.bytes) {
                throw new IllegalStateException("tensor " + t.name + " " + t.type + " " + Arrays.toString(t.dims)
                        + " must be " + t.bytes + " bytes, its source wrote " + counted.count);
            }
            written += t.bytes;
            long padded = GgufFile.align(written, alignment);
            out.write(new byte[(int) (padded - written)]);
            written = padded;
        }
        out.flush();
    }

    private static void value(LittleEndianBuffer out, GgufValue v) {
        switch (v.type()) {
            case ARRAY -> array(out, v.elementType(), v.value());
            case FLOAT32 -> out.int32(Float.floatToRawIntBits((Float) v.value()));
            case FLOAT64 -> out.int64(Double.doubleToRawLongBits((Double) v.value()));
            case BOOL -> out.int8((Boolean) v.value() ? 1 : 0);
            case STRING -> out.string((String) v.value());
            default -> integer(out, v.type(), (Long) v.value());
        }
    }

    private static void array(LittleEndianBuffer out, GgufType element, Object values) {
        out.int32(element.id());
        switch (element) {
            case FLOAT32 -> {
                float[] a = (float[]) values;
                out.int64(a.length);
                for (float f : a) out.int32(Float.floatToRawIntBits(f));
            }
            case FLOAT64 -> {
                double[] a = (double[]) values;
                out.int64(a.length);
                for (double d : a) out.int64(Double.doubleToRawLongBits(d));
            }
            case BOOL -> {
                boolean[] a = (boolean[]) values;
                out.int64(a.length);
                for (boolean b : a) out.int8(b ? 1 : 0);
            }
            case STRING -> {
                String[] a = (String[]) values;
                out.int64(a.length);
                for (String s : a) out.string(s);
            }
            case ARRAY -> {
                GgufValue[] a = (GgufValue[]) values;
                out.int64(a.length);
                for (GgufValue inner : a) {
                    if (inner.type() != GgufType.ARRAY) throw new IllegalArgumentException("an ARRAY of ARRAY holds " + inner.describe());
                    array(out, inner.elementType(), inner.value());
                }
            }
            default -> {
                long[] a = (long[]) values;
                out.int64(a.length);
                for (long l : a) integer(out, element, l);
            }
        }
    }

    private static void integer(LittleEndianBuffer out, GgufType type, long v) {
        switch (type) {
            case UINT8, INT8 -> out.int8((int) v);
            case UINT16, INT16 -> out.int16((int) v);
            case UINT32, INT32 -> out.int32((int) v);
            case UINT64, INT64 -> out.int64(v);
            default -> throw new IllegalArgumentException(type + " is not an integer type");
        }
    }

    /** The header, built in memory (it is small next to the tensors). */
    private static final class LittleEndianBuffer extends ByteArrayOutputStream {
        void int8(int v) { write(v); }

        void int16(int v) { write(v); write(v >>> 8); }

        void int32(int v) { int16(v); int16(v >>> 16); }

        void int64(long v) { int32((int) v); int32((int) (v >>> 32)); }

        void string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            int64(utf8.length);
            write(utf8, 0, utf8.length);
        }

        void padTo(int alignment) {
            while (count % alignment != 0) write(0);
        }
    }

    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) { super(out); }

        @Override public void write(int b) throws IOException { out.write(b); count++; }

        @Override public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); count += len; }

        @Override public void close() { /* the writer owns the stream */ }
    }
}
