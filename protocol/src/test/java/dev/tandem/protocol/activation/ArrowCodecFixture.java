package dev.tandem.protocol.activation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A codec over a fresh allocator per test, and the check that a test left no Arrow memory behind. */
abstract class ArrowCodecFixture {

  private static final long ALLOCATOR_LIMIT = 64L << 20;

  private final long maxBytes;
  protected RootAllocator allocator;
  protected ArrowActivationCodec codec;

  protected ArrowCodecFixture(long maxBytes) {
    this.maxBytes = maxBytes;
  }

  @BeforeEach
  void openCodec() {
    allocator = new RootAllocator(ALLOCATOR_LIMIT);
    codec = new ArrowActivationCodec(allocator, maxBytes);
  }

  @AfterEach
  void closeCodec() {
    assertEquals(0, allocator.getAllocatedMemory(), "Arrow memory leaked");
    allocator.close();
  }
}
