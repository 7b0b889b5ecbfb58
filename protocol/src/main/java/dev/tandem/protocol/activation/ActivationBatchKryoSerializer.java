package dev.tandem.protocol.activation;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import dev.tandem.protocol.serialization.BoundedInput;
import java.util.function.Supplier;

/**
 * Writes an {@link ActivationBatch} inside a Kryo stream as a length-prefixed Arrow IPC stream, so
 * that a message carrying a batch plus a few routing fields keeps its hidden states in Arrow form.
 * Decoding reads the Arrow bytes in place (no copy).
 */
public final class ActivationBatchKryoSerializer extends Serializer<ActivationBatch> {

  private final Supplier<ArrowActivationCodec> codec;

  /** @param codec supplies the codec on first use (the allocator extension may not exist yet) */
  public ActivationBatchKryoSerializer(Supplier<ArrowActivationCodec> codec) {
    super(false, true);
    this.codec = codec;
  }

  @Override
  public void write(Kryo kryo, Output output, ActivationBatch batch) {
    byte[] arrow = codec.get().encode(batch);
    output.writeVarInt(arrow.length, true);
    output.writeBytes(arrow);
  }

  @Override
  public ActivationBatch read(Kryo kryo, Input input, Class<? extends ActivationBatch> type) {
    int length = input.readVarInt(true);
    if (input instanceof BoundedInput bounded) {
      bounded.requireElements(length, 1);
      ActivationBatch batch = codec.get().decode(input.getBuffer(), input.position(), length);
      input.setPosition(input.position() + length);
      return batch;
    }
    return codec.get().decode(input.readBytes(length));
  }
}
