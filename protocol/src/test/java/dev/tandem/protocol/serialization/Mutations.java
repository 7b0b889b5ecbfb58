package dev.tandem.protocol.serialization;

import java.util.Arrays;
import java.util.Random;

/** Seeded corruptions of valid bytes for fuzz tests: bit flips, overwrites, truncations, junk. */
public final class Mutations {

  private static final int KINDS = 5;
  private static final int MAX_FLIPS = 4;

  private Mutations() {
  }

  public static byte[] mutate(byte[] valid, Random random) {
    byte[] bytes = valid.clone();
    switch (random.nextInt(KINDS)) {
      case 0 -> { // flip a few bits
        int flips = 1 + random.nextInt(MAX_FLIPS);
        for (int i = 0; i < flips; i++) {
          int at = random.nextInt(bytes.length);
          bytes[at] ^= (byte) (1 << random.nextInt(Byte.SIZE));
        }
      }
      case 1 -> bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256); // overwrite a byte
      case 2 -> bytes = Arrays.copyOf(bytes, random.nextInt(bytes.length)); // truncate
      case 3 -> { // a run of 0xFF, the worst length prefix
        int at = random.nextInt(bytes.length);
        Arrays.fill(bytes, at, Math.min(bytes.length, at + 1 + random.nextInt(8)), (byte) 0xFF);
      }
      default -> { // splice in random junk
        int at = random.nextInt(bytes.length);
        byte[] junk = new byte[1 + random.nextInt(16)];
        random.nextBytes(junk);
        byte[] spliced = new byte[bytes.length + junk.length];
        System.arraycopy(bytes, 0, spliced, 0, at);
        System.arraycopy(junk, 0, spliced, at, junk.length);
        System.arraycopy(bytes, at, spliced, at + junk.length, bytes.length - at);
        bytes = spliced;
      }
    }
    return bytes;
  }
}
