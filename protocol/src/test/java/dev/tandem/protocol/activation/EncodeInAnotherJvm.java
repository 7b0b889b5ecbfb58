package dev.tandem.protocol.activation;

import java.util.Base64;
import org.apache.arrow.memory.RootAllocator;

/** Prints the Base64 of one batch's encoding (for {@link ActivationTemplatesTest}, run in a fresh JVM). */
public final class EncodeInAnotherJvm {

  static ActivationBatch batch() {
    return ArrowActivationCodecTest.sample(3, 288, 17);
  }

  public static void main(String[] args) {
    try (RootAllocator allocator = new RootAllocator(64L << 20)) {
      byte[] bytes = new ArrowActivationCodec(allocator, 4 << 20).encode(batch());
      System.out.println(Base64.getEncoder().encodeToString(bytes));
    }
  }
}
