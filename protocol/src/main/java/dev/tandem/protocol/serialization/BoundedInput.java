package dev.tandem.protocol.serialization;

import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;

/**
 * Kryo input over a byte array that refuses any element count the remaining bytes cannot hold.
 *
 * <p>Kryo reads a length prefix and allocates the array (or string buffer, or collection) before
 * reading the elements. From corrupted bytes that prefix can be two billion: the allocation would
 * exhaust the heap before the read ever failed. Every element takes at least one byte on the wire,
 * so {@code count <= remaining bytes} is a safe, cheap bound. Collections use {@link #requireElements}.
 */
public final class BoundedInput extends Input {

  public BoundedInput(byte[] bytes) {
    super(bytes);
  }

  /** Bytes left to read. */
  public int remaining() {
    return limit - position;
  }

  /** Throws unless {@code count} elements of at least {@code minBytesEach} bytes can still follow. */
  public void requireElements(long count, int minBytesEach) {
    if (count < 0 || count * minBytesEach > remaining()) {
      throw new KryoException("corrupted input: " + count + " elements claimed, only " + remaining()
          + " bytes remain");
    }
  }

  /** Same bound for any Kryo input: inputs that are not bounded (never ours) are left alone. */
  public static void requireElements(Input input, long count) {
    if (input instanceof BoundedInput bounded) {
      bounded.requireElements(count, 1);
    }
  }

  @Override
  public String readString() {
    int start = position;
    if (readVarIntFlag()) { // UTF-8 with a char count prefix, rather than self-terminated ASCII
      int charCountPlusOne = readVarIntFlag(true); // 0 = null, 1 = ""
      position = start;
      requireElements(Math.max(0, charCountPlusOne - 1L), 1);
    }
    return super.readString();
  }

  @Override
  public StringBuilder readStringBuilder() {
    int start = position;
    if (readVarIntFlag()) {
      int charCountPlusOne = readVarIntFlag(true);
      position = start;
      requireElements(Math.max(0, charCountPlusOne - 1L), 1);
    }
    return super.readStringBuilder();
  }

  @Override
  public byte[] readBytes(int length) {
    requireElements(length, Byte.BYTES);
    return super.readBytes(length);
  }

  @Override
  public int[] readInts(int length) {
    requireElements(length, Integer.BYTES);
    return super.readInts(length);
  }

  @Override
  public int[] readInts(int length, boolean optimizePositive) {
    requireElements(length, 1); // variable-length encoding: at least one byte each
    return super.readInts(length, optimizePositive);
  }

  @Override
  public long[] readLongs(int length) {
    requireElements(length, Long.BYTES);
    return super.readLongs(length);
  }

  @Override
  public long[] readLongs(int length, boolean optimizePositive) {
    requireElements(length, 1);
    return super.readLongs(length, optimizePositive);
  }

  @Override
  public float[] readFloats(int length) {
    requireElements(length, Float.BYTES);
    return super.readFloats(length);
  }

  @Override
  public double[] readDoubles(int length) {
    requireElements(length, Double.BYTES);
    return super.readDoubles(length);
  }

  @Override
  public short[] readShorts(int length) {
    requireElements(length, Short.BYTES);
    return super.readShorts(length);
  }

  @Override
  public char[] readChars(int length) {
    requireElements(length, Character.BYTES);
    return super.readChars(length);
  }

  @Override
  public boolean[] readBooleans(int length) {
    requireElements(length, 1);
    return super.readBooleans(length);
  }
}
