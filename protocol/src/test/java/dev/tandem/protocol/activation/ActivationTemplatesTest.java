package dev.tandem.protocol.activation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The template fast path writes exactly Arrow's bytes and reads only streams that are exactly Arrow's. */
class ActivationTemplatesTest extends ArrowCodecFixture {

  private static final long MAX_BYTES = 4 << 20;

  ActivationTemplatesTest() {
    super(MAX_BYTES);
  }

  private static ActivationBatch batch(int rows, int dim, long stepId, long seed) {
    ActivationBatch sample = ArrowActivationCodecTest.sample(rows, dim, seed);
    return new ActivationBatch(sample.route(), stepId, dim, sample.seqIds(), sample.positions(), sample.flags(),
        sample.hidden());
  }

  @Test
  void templateEncodingIsArrowsWriterByteForByte() {
    int[][] shapes = {{1, 288}, {2, 288}, {5, 288}, {9, 288}, {16, 288}, {3, 7}, {1, 4096}};
    long[] stepIds = {0, 1, 42, 1_000_000_007L, Long.MAX_VALUE};
    for (int[] shape : shapes) {
      for (long stepId : stepIds) {
        ActivationBatch b = batch(shape[0], shape[1], stepId, stepId ^ shape[0]);
        byte[] fast = codec.encode(b);
        assertArrayEquals(codec.writeArrow(b), fast, shape[0] + "x" + shape[1] + " step " + stepId);
        assertEquals(b, codec.readArrow(fast, 0, fast.length), "Arrow's reader reads the template's bytes");
      }
    }
  }

  @Test
  void aPeerLearnsAShapeFromArrowsReaderThenReadsItDirectly() {
    ActivationTemplates peer = new ActivationTemplates(codec::writeArrow);
    ActivationBatch first = batch(1, 288, 7, 1);
    byte[] bytes = codec.writeArrow(first);
    assertNull(peer.decode(bytes, 0, bytes.length), "an unknown shape is not read directly");
    peer.learn(codec.readArrow(bytes, 0, bytes.length));
    for (long step = 8; step < 40; step++) {
      ActivationBatch next = batch(1, 288, step, step);
      byte[] encoded = codec.writeArrow(next);
      byte[] inside = new byte[encoded.length + 11];
      System.arraycopy(encoded, 0, inside, 5, encoded.length);
      assertEquals(next, peer.decode(inside, 5, encoded.length));
    }
    // The same length but another shape (the route differs in one character) is not this template.
    ActivationBatch other = new ActivationBatch("stories15M/route-2", 9, 288, first.seqIds(), first.positions(),
        first.flags(), first.hidden());
    byte[] otherBytes = codec.writeArrow(other);
    assertEquals(bytes.length, otherBytes.length);
    assertNull(peer.decode(otherBytes, 0, otherBytes.length));
  }

  @Test
  void aStreamIsReadDirectlyOnlyWhereArrowsReaderReadsTheSame() {
    ActivationBatch b = batch(2, 288, 5, 3);
    byte[] valid = codec.encode(b);
    ActivationTemplates templates = new ActivationTemplates(codec::writeArrow);
    templates.learn(b);
    assertEquals(b, templates.decode(valid, 0, valid.length));
    int accepted = 0;
    for (int i = 0; i < valid.length; i++) {
      byte[] changed = valid.clone();
      changed[i] ^= 0x10; // a step id digit becomes a non-digit, so only column bytes can be accepted
      ActivationBatch direct = templates.decode(changed, 0, changed.length);
      if (direct != null) {
        accepted++;
        assertEquals(codec.readArrow(changed, 0, changed.length), direct, "byte " + i);
      }
    }
    assertEquals(ArrowActivationCodec.payloadBytes(b.rows(), b.dim()), accepted,
        "exactly the column data bytes vary; every other byte must be Arrow's");
  }

  @Test
  void badStepIdsAndPositionsGetArrowsErrors() {
    ActivationBatch sample = batch(1, 288, 5, 3);
    ActivationBatch b = new ActivationBatch(sample.route(), 5, 288, sample.seqIds(), new int[] {1234}, sample.flags(),
        sample.hidden());
    byte[] valid = codec.encode(b);
    int stepAt = indexOf(valid, ActivationTemplates.stepIdText(5));

    byte[] overflow = valid.clone();
    System.arraycopy("9999999999999999999".getBytes(StandardCharsets.US_ASCII), 0, overflow, stepAt,
        ActivationTemplates.STEP_ID_DIGITS);
    ActivationFormatException e = assertThrows(ActivationFormatException.class, () -> codec.decode(overflow));
    assertTrue(e.getMessage().contains("tandem.step_id"), e.getMessage());

    byte[] letter = valid.clone();
    letter[stepAt + 3] = 'x';
    assertThrows(ActivationFormatException.class, () -> codec.decode(letter));

    // The positions column follows the seq ids; find it by the value written there.
    byte[] negative = valid.clone();
    int positionAt = indexOf(negative, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
        .putInt(b.positions()[0]).array(), indexOf(valid, longBytes(b.seqIds()[0]), 0) + Long.BYTES);
    ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putInt(positionAt, -3);
    e = assertThrows(ActivationFormatException.class, () -> codec.decode(negative));
    assertTrue(e.getMessage().contains("negative position"), e.getMessage());
  }

  @Test
  void negativeStepIdsAndLargeBatchesTakeArrowsWriter() {
    ActivationBatch negative = batch(1, 288, -12, 4);
    byte[] bytes = codec.encode(negative);
    assertArrayEquals(codec.writeArrow(negative), bytes);
    assertEquals(negative, codec.decode(bytes));
    int rows = ActivationTemplates.MAX_TEMPLATE_BYTES / (288 * Float.BYTES) + 1;
    ActivationBatch large = batch(rows, 288, 3, 5);
    assertEquals(large, codec.decode(codec.encode(large)));
    assertEquals(ActivationTemplates.stepIdText(3), "0000000000000000003");
  }

  /**
   * A peer's template only matches if every JVM writes the same bytes for a batch. Metadata iteration order once
   * differed from JVM to JVM (Map.of), so that stages never took the direct path: encode in fresh JVMs and compare.
   */
  @Test
  void everyJvmWritesTheSameBytes() throws Exception {
    String here = Base64.getEncoder().encodeToString(codec.encode(EncodeInAnotherJvm.batch()));
    for (int jvm = 0; jvm < 3; jvm++) {
      List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "--add-opens=java.base/java.nio=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
          "-cp", System.getProperty("java.class.path"), EncodeInAnotherJvm.class.getName()));
      Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String there = new String(process.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
      assertTrue(process.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, process.exitValue());
      assertTrue(here.equals(there), "JVM " + jvm + " wrote other bytes, first difference at Base64 character "
          + Arrays.mismatch(here.toCharArray(), there.toCharArray()));
    }
  }

  private static byte[] longBytes(long v) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
  }

  private static int indexOf(byte[] haystack, String needle) {
    return indexOf(haystack, needle.getBytes(StandardCharsets.US_ASCII), 0);
  }

  private static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = from; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) continue outer;
      }
      return i;
    }
    throw new AssertionError("not found");
  }
}
