package dev.tandem.engine.format;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value. Integers of every width are held as a {@code long} (a uint64 keeps its
 * raw bits), FLOAT32 as {@code Float}, FLOAT64 as {@code Double}, BOOL as {@code Boolean}, STRING as
 * {@code String}. An ARRAY holds a Java array matching its element type: {@code long[]} for
 * integers, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, or
 * {@code GgufValue[]} for arrays of arrays.
 *
 * @param type        the value's type
 * @param elementType the element type of an ARRAY, else null
 * @param value       the value, as above
 */
public record GgufValue(GgufType type, GgufType elementType, Object value) {

    public GgufValue {
        Objects.requireNonNull(type);
        Objects.requireNonNull(value);
        if ((type == GgufType.ARRAY) != (elementType != null)) {
            throw new IllegalArgumentException("an element type is given exactly for arrays: " + type + " of " + elementType);
        }
        Class<?> expected = type == GgufType.ARRAY ? arrayClass(elementType) : scalarClass(type);
        if (!expected.isInstance(value)) {
            throw new IllegalArgumentException(describe(type, elementType) + " needs a " + expected.getSimpleName()
                    + ", not a " + value.getClass().getSimpleName());
        }
    }

    public static GgufValue uint8(int v) { return integer(GgufType.UINT8, v, 0, 0xff); }

    public static GgufValue int8(int v) { return integer(GgufType.INT8, v, Byte.MIN_VALUE, Byte.MAX_VALUE); }

    public static GgufValue uint16(int v) { return integer(GgufType.UINT16, v, 0, 0xffff); }

    public static GgufValue int16(int v) { return integer(GgufType.INT16, v, Short.MIN_VALUE, Short.MAX_VALUE); }

    public static GgufValue uint32(long v) { return integer(GgufType.UINT32, v, 0, 0xffff_ffffL); }

    public static GgufValue int32(int v) { return new GgufValue(GgufType.INT32, null, (long) v); }

    /** A uint64 from its raw bits (values above Long.MAX_VALUE are negative longs). */
    public static GgufValue uint64(long bits) { return new GgufValue(GgufType.UINT64, null, bits); }

    public static GgufValue int64(long v) { return new GgufValue(GgufType.INT64, null, v); }

    public static GgufValue float32(float v) { return new GgufValue(GgufType.FLOAT32, null, v); }

    public static GgufValue float64(double v) { return new GgufValue(GgufType.FLOAT64, null, v); }

    public static GgufValue bool(boolean v) { return new GgufValue(GgufType.BOOL, null, v); }

    public static GgufValue string(String v) { return new GgufValue(GgufType.STRING, null, v); }

    public static GgufValue strings(List<String> v) { return new GgufValue(GgufType.ARRAY, GgufType.STRING, v.toArray(String[]::new)); }

    public static GgufValue float32s(float[] v) { return new GgufValue(GgufType.ARRAY, GgufType.FLOAT32, v.clone()); }

    public static GgufValue int32s(int[] v) {
        return new GgufValue(GgufType.ARRAY, GgufType.INT32, Arrays.stream(v).asLongStream().toArray());
    }

    /** An array of any element type; integer arrays are given as {@code long[]} (see the class comment). */
    public static GgufValue array(GgufType elementType, Object javaArray) {
        return new GgufValue(GgufType.ARRAY, elementType, javaArray);
    }

    /** Number of elements of an array value. */
    public int length() {
        if (type != GgufType.ARRAY) throw new IllegalStateException(describe() + " is not an array");
        return java.lang.reflect.Array.getLength(value);
    }

    /** "UINT32" or "ARRAY of STRING": for messages. */
    public String describe() {
        return describe(type, elementType);
    }

    static String describe(GgufType type, GgufType elementType) {
        return type == GgufType.ARRAY ? "ARRAY of " + elementType : type.name();
    }

    private static GgufValue integer(GgufType type, long v, long min, long max) {
        if (v < min || v > max) throw new IllegalArgumentException(v + " does not fit in " + type);
        return new GgufValue(type, null, v);
    }

    private static Class<?> scalarClass(GgufType type) {
        return switch (type) {
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> throw new IllegalArgumentException("ARRAY is not a scalar type");
            default -> Long.class;
        };
    }

    private static Class<?> arrayClass(GgufType elementType) {
        return switch (elementType) {
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufValue[].class;
            default -> long[].class;
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufValue(GgufType t, GgufType e, Object v)
                && t == type && e == elementType && Objects.deepEquals(v, value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, elementType, Arrays.deepHashCode(new Object[]{value}));
    }

    @Override
    public String toString() {
        String shown = type == GgufType.ARRAY ? "[" + length() + " elements]" : String.valueOf(value);
        return describe() + " " + shown;
    }
}
