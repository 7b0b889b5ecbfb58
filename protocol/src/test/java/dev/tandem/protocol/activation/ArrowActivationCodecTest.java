package dev.tandem.protocol.activation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.protocol.serialization.Mutations;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class ArrowActivationCodecTest extends ArrowCodecFixture {

  private static final long MAX_BYTES = 1 << 20;
  private static final long FUZZ_SEED = 0xA110CL;
  private static final int FUZZ_ROUNDS = 2000;

  ArrowActivationCodecTest() {
    super(MAX_BYTES);
  }

  static ActivationBatch sample(int rows, int dim, long seed) {
    Random random = new Random(seed);
    long[] seqIds = new long[rows];
    int[] positions = new int[rows];
    int[] flags = new int[rows];
    float[] hidden = new float[rows * dim];
    for (int r = 0; r < rows; r++) {
      seqIds[r] = random.nextLong();
      positions[r] = random.nextInt(4096);
      flags[r] = r % 2 == 0 ? RowFlags.WANT_LOGITS : RowFlags.PREFILL | RowFlags.DRAFT;
    }
    for (int i = 0; i < hidden.length; i++) {
      hidden[i] = (float) random.nextGaussian();
    }
    return new ActivationBatch("stories15M/route-1", 42L, dim, seqIds, positions, flags, hidden);
  }

  @Test
  void roundTripIsBitExactIncludingNaNPayloadsAndSignedZero() {
    ActivationBatch batch = sample(5, 7, 1);
    float[] h = batch.hidden();
    h[0] = Float.NaN;
    h[1] = Float.intBitsToFloat(0x7FC0_1234); // quiet NaN with a payload
    h[2] = Float.intBitsToFloat(0x7F80_0001); // signalling NaN
    h[3] = Float.intBitsToFloat(0xFFC0_0000); // negative NaN
    h[4] = -0.0f;
    h[5] = 0.0f;
    h[6] = Float.MIN_VALUE; // subnormal
    h[7] = Float.NEGATIVE_INFINITY;
    h[8] = Float.MAX_VALUE;
    ActivationBatch back = codec.decode(codec.encode(batch));
    assertEquals(batch, back);
    for (int i = 0; i < h.length; i++) {
      assertEquals(Float.floatToRawIntBits(h[i]), Float.floatToRawIntBits(back.hidden()[i]), "float " + i);
    }
    assertEquals("stories15M/route-1", back.route());
    assertEquals(42L, back.stepId());
  }

  @Test
  void shapesRoundTrip() {
    for (int[] shape : new int[][] {{0, 1}, {1, 1}, {1, 288}, {9, 288}, {64, 288}, {3, 4096}}) {
      ActivationBatch batch = sample(shape[0], shape[1], shape[0] * 31L + shape[1]);
      assertEquals(batch, codec.decode(codec.encode(batch)), Arrays.toString(shape));
    }
  }

  @Test
  void decodesASliceOfALargerArray() {
    byte[] encoded = codec.encode(sample(3, 16, 5));
    byte[] padded = new byte[encoded.length + 20];
    System.arraycopy(encoded, 0, padded, 7, encoded.length);
    assertEquals(sample(3, 16, 5), codec.decode(padded, 7, encoded.length));
  }

  @Test
  void oversizedBatchIsRefusedOnBothSides() {
    int dim = 1024;
    int rows = (int) (MAX_BYTES / (dim * Float.BYTES)) + 1;
    ActivationFormatException e = assertThrows(ActivationFormatException.class,
        () -> codec.encode(sample(rows, dim, 3)));
    assertTrue(e.getMessage().contains("max-activation-bytes"), e.getMessage());

    ArrowActivationCodec big = new ArrowActivationCodec(allocator, 4 * MAX_BYTES);
    byte[] encoded = big.encode(sample(rows, dim, 3));
    assertThrows(ActivationFormatException.class, () -> codec.decode(encoded));
  }

  @Test
  void foreignArrowStreamIsRefused() throws Exception {
    Schema other = new Schema(List.of(new Field("x", FieldType.notNullable(new ArrowType.Int(32, true)), null)));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (VectorSchemaRoot root = VectorSchemaRoot.create(other, allocator);
         ArrowStreamWriter writer = new ArrowStreamWriter(root, null, Channels.newChannel(out))) {
      ((IntVector) root.getVector("x")).allocateNew(1);
      ((IntVector) root.getVector("x")).set(0, 1);
      root.setRowCount(1);
      writer.start();
      writer.writeBatch();
      writer.end();
    }
    ActivationFormatException e = assertThrows(ActivationFormatException.class, () -> codec.decode(out.toByteArray()));
    assertTrue(e.getMessage().contains("expected"), e.getMessage());
  }

  @Test
  void trailingAndMissingBytesAreRefused() {
    byte[] encoded = codec.encode(sample(2, 8, 9));
    assertThrows(ActivationFormatException.class, () -> codec.decode(Arrays.copyOf(encoded, encoded.length + 8)));
    assertThrows(ActivationFormatException.class, () -> codec.decode(Arrays.copyOf(encoded, encoded.length - 8)));
    assertThrows(ActivationFormatException.class, () -> codec.decode(new byte[0]));
  }

  @Test
  void corruptedBytesFailCleanlyOrDecodeValidly() {
    ActivationBatch original = sample(6, 32, 11);
    byte[] valid = codec.encode(original);
    Random random = new Random(FUZZ_SEED);
    int refused = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
      byte[] mutated = Mutations.mutate(valid, random);
      try {
        ActivationBatch decoded = codec.decode(mutated);
        assertEquals(decoded.rows() * decoded.dim(), decoded.hidden().length);
      } catch (ActivationFormatException expected) {
        refused++;
      } catch (Throwable other) {
        throw new AssertionError("round " + round + ": expected ActivationFormatException, got " + other, other);
      }
      assertEquals(0, allocator.getAllocatedMemory(), "round " + round + " leaked Arrow memory");
    }
    assertTrue(refused > 0);
  }

  @Test
  void batchValidatesItsShape() {
    assertThrows(IllegalArgumentException.class,
        () -> ActivationBatch.of("r", 0, 4, new long[2], new int[2], new float[7]));
    assertThrows(IllegalArgumentException.class,
        () -> ActivationBatch.of("r", 0, 0, new long[0], new int[0], new float[0]));
    assertThrows(IllegalArgumentException.class,
        () -> new ActivationBatch("r", 0, 1, new long[1], new int[1], new int[2], new float[1]));
  }
}
