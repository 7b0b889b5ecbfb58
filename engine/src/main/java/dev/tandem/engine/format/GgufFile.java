package dev.tandem.engine.format;

import dev.tandem.engine.model.ModelFormatException;
import dev.tandem.engine.tensor.TensorType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed GGUF file (version 3, or 2 which has the same layout): header, metadata, tensor infos,
 * and the data section, memory-mapped and never copied onto the heap.
 *
 * <p>Layout (little-endian): magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata
 * count, the metadata key/values, the tensor infos, padding to {@code general.alignment} (32 by
 * default), then the tensor data, each tensor at an aligned offset relative to the data section.
 *
 * <p>Every count and length read from the file is checked against the bytes that remain, so a
 * damaged file fails with a {@link ModelFormatException} that names it, never with an
 * OutOfMemoryError or an index exception.
 */
public final class GgufFile {

    /** "GGUF" read as a little-endian uint32. */
    public static final int MAGIC = 0x46554747;
    public static final int VERSION = 3;
    private static final int OLDEST_READABLE_VERSION = 2;
    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;
    /** ggml tensors have at most four dimensions. */
    static final int MAX_DIMS = 4;
    /** Arrays of arrays nest at most this deep (guards the recursion against hostile files). */
    private static final int MAX_ARRAY_NESTING = 8;
    /** Longest string a Java byte array can hold. */
    private static final long MAX_STRING_BYTES = Integer.MAX_VALUE - 8;
    /** Smallest tensor info: name length, n_dims, one dim, type, offset. */
    private static final int MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** Smallest key/value: key length, value type, one byte of value. */
    private static final int MIN_KV_BYTES = 8 + 4 + 1;

    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Every type Tandem reads, in the order messages list them. */
    private static final List<TensorType> READABLE_TYPES = List.of(TensorType.F32, TensorType.F16, TensorType.BF16,
            TensorType.Q8_0, TensorType.Q4_0, TensorType.Q4_K, TensorType.Q6_K);

    private final Path path;
    private final int version;
    private final Map<String, GgufValue> metadata;
    private final Map<String, GgufTensorInfo> tensors;
    private final int alignment;
    private final MemorySegment data;

    private GgufFile(Path path, int version, Map<String, GgufValue> metadata, Map<String, GgufTensorInfo> tensors,
                     int alignment, MemorySegment data) {
        this.path = path;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.alignment = alignment;
        this.data = data;
    }

    /** Maps {@code file} into {@code arena} (which then owns the mapping) and parses it. */
    public static GgufFile open(Path file, Arena arena) {
        return parse(file, map(file, arena));
    }

    static MemorySegment map(Path file, Arena arena) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException("model file not found: " + file);
        } catch (IOException e) {
            throw new ModelFormatException("cannot read model file " + file + ": " + e.getMessage(), e);
        }
    }

    /** True when the segment starts with the GGUF magic. */
    public static boolean hasMagic(MemorySegment all) {
        return all.byteSize() >= Integer.BYTES && all.get(LE_INT, 0) == MAGIC;
    }

    /** Parses a whole file's bytes; {@code file} only names it in messages. */
    public static GgufFile parse(Path file, MemorySegment all) {
        Cursor in = new Cursor(file, all);
        int magic = in.int32("the magic number");
        if (magic != MAGIC) {
            throw new ModelFormatException(file + " is not a GGUF file: it starts with 0x"
                    + Integer.toHexString(Integer.reverseBytes(magic)) + ", not \"GGUF\"");
        }
        int version = in.int32("the version");
        int swapped = Integer.reverseBytes(version);
        if (swapped >= OLDEST_READABLE_VERSION && swapped <= VERSION) {
            throw new ModelFormatException(file + " is a big-endian GGUF file; Tandem reads little-endian GGUF only");
        }
        if (version < OLDEST_READABLE_VERSION || version > VERSION) {
            throw new ModelFormatException(file + " is GGUF version " + Integer.toUnsignedString(version)
                    + "; Tandem reads versions " + OLDEST_READABLE_VERSION + " and " + VERSION);
        }
        long tensorCount = in.count("the tensor count", MIN_TENSOR_INFO_BYTES);
        long kvCount = in.count("the metadata count", MIN_KV_BYTES);

        Map<String, GgufValue> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key #" + i);
            GgufValue value = in.value(key, in.type("the type of metadata key " + key), 0);
            if (metadata.putIfAbsent(key, value) != null) {
                throw new ModelFormatException(file + " has metadata key " + key + " twice");
            }
        }
        int alignment = alignment(file, metadata);

        Map<String, GgufTensorInfo> tensors = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            GgufTensorInfo t = in.tensorInfo(i);
            if (tensors.putIfAbsent(t.name(), t) != null) {
                throw new ModelFormatException(file + " has tensor " + t.name() + " twice");
            }
        }
        long dataStart = align(in.offset, alignment);
        if (dataStart > all.byteSize()) {
            if (tensorCount == 0) dataStart = all.byteSize(); // a file without tensors may end unpadded
            else throw new ModelFormatException(file + " is truncated: it ends before its data section");
        }
        MemorySegment data = all.asSlice(dataStart);
        for (GgufTensorInfo t : tensors.values()) checkPlacement(file, t, data.byteSize(), alignment);
        return new GgufFile(file, version, metadata, tensors, alignment, data);
    }

    private static int alignment(Path file, Map<String, GgufValue> metadata) {
        GgufValue v = metadata.get(ALIGNMENT_KEY);
        if (v == null) return DEFAULT_ALIGNMENT;
        if (!v.type().isInteger()) {
            throw new ModelFormatException(file + ": metadata key " + ALIGNMENT_KEY + " is " + v.describe() + ", expected an integer");
        }
        long a = (Long) v.value();
        if (a <= 0 || a > Integer.MAX_VALUE || Long.bitCount(a) != 1) {
            throw new ModelFormatException(file + ": " + ALIGNMENT_KEY + " is " + a + ", not a power of two");
        }
        return (int) a;
    }

    private static void checkPlacement(Path file, GgufTensorInfo t, long dataBytes, int alignment) {
        if (t.offset() % alignment != 0) {
            throw new ModelFormatException(file + ": tensor " + t.name() + " starts at offset " + t.offset()
                    + ", which is not a multiple of the alignment " + alignment);
        }
        Optional<TensorType> type = t.type();
        if (type.isEmpty()) return; // unreadable types fail when the tensor is used, with a better message
        long elements = t.elementCount();
        if (t.dim(0) % type.get().blockSize() != 0) {
            throw new ModelFormatException(file + ": tensor " + t.name() + " " + t.shape() + " is " + type.get()
                    + " but its first dimension is not a multiple of the block size " + type.get().blockSize());
        }
        long bytes = type.get().bytesFor(elements);
        if (t.offset() > dataBytes || bytes > dataBytes - t.offset()) {
            throw new ModelFormatException(file + " is truncated: tensor " + t.name() + " needs bytes "
                    + t.offset() + ".." + (t.offset() + bytes) + " of a data section of " + dataBytes + " bytes");
        }
    }

    static long align(long offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    public Path path() { return path; }

    public int version() { return version; }

    public int alignment() { return alignment; }

    /** All metadata, in file order. */
    public Map<String, GgufValue> metadata() { return metadata; }

    /** All tensor infos, in file order. */
    public List<GgufTensorInfo> tensors() { return List.copyOf(tensors.values()); }

    public Optional<GgufTensorInfo> tensor(String name) { return Optional.ofNullable(tensors.get(name)); }

    /** The data section (every tensor's bytes), mapped. */
    public MemorySegment dataSection() { return data; }

    /** A tensor's bytes, mapped; throws if Tandem cannot read its type. */
    public MemorySegment tensorData(GgufTensorInfo t) {
        TensorType type = readableType(t);
        return data.asSlice(t.offset(), type.bytesFor(t.elementCount()));
    }

    /** The tensor's storage type, or a ModelFormatException naming the GGML type Tandem cannot read. */
    public TensorType readableType(GgufTensorInfo t) {
        return t.type().orElseThrow(() -> new ModelFormatException(path + ": tensor " + t.name() + " has GGML type "
                + t.ggmlType() + ", which Tandem cannot read (supported: " + supportedTypes() + ")"));
    }

    private static String supportedTypes() {
        return String.join(", ", READABLE_TYPES.stream().map(Enum::name).toList());
    }

    // ---- typed metadata access -------------------------------------------------------------

    public boolean has(String key) { return metadata.containsKey(key); }

    public GgufValue get(String key) {
        GgufValue v = metadata.get(key);
        if (v == null) throw new ModelFormatException(path + ": metadata key " + key + " is missing");
        return v;
    }

    public String getString(String key) {
        return (String) expect(key, GgufType.STRING, null).value();
    }

    public boolean getBool(String key) {
        return (Boolean) expect(key, GgufType.BOOL, null).value();
    }

    /** Any integer type, as long as the value fits in an int. */
    public int getInt(String key) {
        long v = getLong(key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ModelFormatException(path + ": metadata key " + key + " is " + v + ", out of range");
        }
        return (int) v;
    }

    public int getInt(String key, int defaultValue) {
        return has(key) ? getInt(key) : defaultValue;
    }

    /** Any integer type (a uint64 above Long.MAX_VALUE is out of range). */
    public long getLong(String key) {
        GgufValue v = get(key);
        if (!v.type().isInteger()) throw wrongType(key, v, "an integer");
        long value = (Long) v.value();
        if (v.type() == GgufType.UINT64 && value < 0) {
            throw new ModelFormatException(path + ": metadata key " + key + " is " + Long.toUnsignedString(value) + ", out of range");
        }
        return value;
    }

    /** FLOAT32 or FLOAT64. */
    public float getFloat(String key) {
        GgufValue v = get(key);
        return switch (v.type()) {
            case FLOAT32 -> (Float) v.value();
            case FLOAT64 -> ((Double) v.value()).floatValue();
            default -> throw wrongType(key, v, "a float");
        };
    }

    public float getFloat(String key, float defaultValue) {
        return has(key) ? getFloat(key) : defaultValue;
    }

    public List<String> getStringArray(String key) {
        return List.of((String[]) expect(key, GgufType.ARRAY, GgufType.STRING).value());
    }

    public float[] getFloatArray(String key) {
        return ((float[]) expect(key, GgufType.ARRAY, GgufType.FLOAT32).value()).clone();
    }

    /** An array of any integer type whose values fit in an int. */
    public int[] getIntArray(String key) {
        GgufValue v = get(key);
        if (v.type() != GgufType.ARRAY || !v.elementType().isInteger()) throw wrongType(key, v, "an ARRAY of integers");
        long[] values = (long[]) v.value();
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            if (values[i] < Integer.MIN_VALUE || values[i] > Integer.MAX_VALUE) {
                throw new ModelFormatException(path + ": element " + i + " of metadata key " + key + " is out of range");
            }
            out[i] = (int) values[i];
        }
        return out;
    }

    private GgufValue expect(String key, GgufType type, GgufType elementType) {
        GgufValue v = get(key);
        if (v.type() != type || v.elementType() != elementType) throw wrongType(key, v, GgufValue.describe(type, elementType));
        return v;
    }

    private ModelFormatException wrongType(String key, GgufValue v, String expected) {
        return new ModelFormatException(path + ": metadata key " + key + " is " + v.describe() + ", expected " + expected);
    }

    /** Reads the header part of the file, checking every read against the end of the file. */
    private static final class Cursor {
        private final Path file;
        private final MemorySegment all;
        private long offset;

        Cursor(Path file, MemorySegment all) {
            this.file = file;
            this.all = all;
        }

        private long remaining() {
            return all.byteSize() - offset;
        }

        private void need(long bytes, String what) {
            if (bytes > remaining()) {
                throw new ModelFormatException(file + " is truncated: it ends at byte " + all.byteSize()
                        + " while reading " + what + " at byte " + offset);
            }
        }

        int int32(String what) {
            need(4, what);
            int v = all.get(LE_INT, offset);
            offset += 4;
            return v;
        }

        long int64(String what) {
            need(8, what);
            long v = all.get(LE_LONG, offset);
            offset += 8;
            return v;
        }

        /** A uint64 count of items that take at least {@code minItemBytes} each: it must fit in what remains. */
        long count(String what, int minItemBytes) {
            long n = int64(what);
            if (n < 0 || n > remaining() / minItemBytes) {
                throw new ModelFormatException(file + ": " + what + " is " + Long.toUnsignedString(n)
                        + ", more than the " + remaining() + " remaining bytes can hold (corrupt or truncated file)");
            }
            return n;
        }

        GgufType type(String what) {
            int id = int32(what);
            return GgufType.ofId(Integer.toUnsignedLong(id)).orElseThrow(() -> new ModelFormatException(
                    file + ": " + what + " is " + Integer.toUnsignedString(id) + ", not a GGUF value type"));
        }

        String string(String what) {
            long length = count("the length of " + what, 1);
            if (length > MAX_STRING_BYTES) throw new ModelFormatException(file + ": " + what + " is too long (" + length + " bytes)");
            byte[] bytes = new byte[(int) length];
            MemorySegment.copy(all, ValueLayout.JAVA_BYTE, offset, bytes, 0, bytes.length);
            offset += length;
            return new String(bytes, StandardCharsets.UTF_8);
        }

        GgufValue value(String key, GgufType type, int depth) {
            String what = "the value of " + key;
            return switch (type) {
                case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> new GgufValue(type, null, integer(type, what));
                case FLOAT32 -> new GgufValue(type, null, Float.intBitsToFloat(int32(what)));
                case FLOAT64 -> new GgufValue(type, null, Double.longBitsToDouble(int64(what)));
                case BOOL -> new GgufValue(type, null, bool(what));
                case STRING -> new GgufValue(type, null, string(what));
                case ARRAY -> array(key, depth);
            };
        }

        private GgufValue array(String key, int depth) {
            if (depth >= MAX_ARRAY_NESTING) {
                throw new ModelFormatException(file + ": metadata key " + key + " nests arrays deeper than " + MAX_ARRAY_NESTING);
            }
            GgufType element = type("the element type of " + key);
            long n = count("the length of array " + key, element.minBytes());
            int length = (int) n; // count() bounded n by the file size, which may still exceed a Java array
            if (length != n) throw new ModelFormatException(file + ": array " + key + " has " + n + " elements, too many");
            String what = "array " + key;
            Object values = switch (element) {
                case FLOAT32 -> {
                    need(4L * length, what);
                    float[] a = new float[length];
                    MemorySegment.copy(all, LE_FLOAT, offset, a, 0, length);
                    offset += 4L * length;
                    yield a;
                }
                case FLOAT64 -> {
                    need(8L * length, what);
                    double[] a = new double[length];
                    MemorySegment.copy(all, LE_DOUBLE, offset, a, 0, length);
                    offset += 8L * length;
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[length];
                    for (int i = 0; i < length; i++) a[i] = bool(what);
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[length];
                    for (int i = 0; i < length; i++) a[i] = string("element " + i + " of " + what);
                    yield a;
                }
                case ARRAY -> {
                    GgufValue[] a = new GgufValue[length];
                    for (int i = 0; i < length; i++) a[i] = array(key + "[" + i + "]", depth + 1);
                    yield a;
                }
                default -> {
                    long[] a = new long[length];
                    for (int i = 0; i < length; i++) a[i] = integer(element, what);
                    yield a;
                }
            };
            return new GgufValue(GgufType.ARRAY, element, values);
        }

        /** An integer of any width, widened to long (a uint64 keeps its raw bits). */
        private long integer(GgufType type, String what) {
            return switch (type) {
                case UINT8 -> byte8(what) & 0xff;
                case INT8 -> byte8(what);
                case UINT16 -> short16(what) & 0xffff;
                case INT16 -> short16(what);
                case UINT32 -> Integer.toUnsignedLong(int32(what));
                case INT32 -> int32(what);
                case UINT64, INT64 -> int64(what);
                default -> throw new IllegalArgumentException(type + " is not an integer type");
            };
        }

        private byte byte8(String what) {
            need(1, what);
            return all.get(ValueLayout.JAVA_BYTE, offset++);
        }

        private short short16(String what) {
            need(2, what);
            short v = all.get(LE_SHORT, offset);
            offset += 2;
            return v;
        }

        private boolean bool(String what) {
            byte b = byte8(what);
            if (b != 0 && b != 1) throw new ModelFormatException(file + ": " + what + " holds " + b + ", not a boolean");
            return b == 1;
        }

        GgufTensorInfo tensorInfo(long index) {
            String name = string("the name of tensor #" + index);
            int nDims = int32("the rank of tensor " + name);
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw new ModelFormatException(file + ": tensor " + name + " has " + Integer.toUnsignedString(nDims)
                        + " dimensions; ggml allows 1 to " + MAX_DIMS);
            }
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = int64("dimension " + d + " of tensor " + name);
                if (dims[d] <= 0) {
                    throw new ModelFormatException(file + ": tensor " + name + " has dimension " + d + " = "
                            + Long.toUnsignedString(dims[d]));
                }
                try {
                    elements = Math.multiplyExact(elements, dims[d]);
                } catch (ArithmeticException e) {
                    throw new ModelFormatException(file + ": tensor " + name + " " + Arrays.toString(dims) + " has too many elements");
                }
            }
            int type = int32("the type of tensor " + name);
            long offset = int64("the offset of tensor " + name);
            if (offset < 0) {
                throw new ModelFormatException(file + ": tensor " + name + " has offset " + Long.toUnsignedString(offset));
            }
            return new GgufTensorInfo(name, dims, type, offset);
        }
    }
}
