package dev.tandem.protocol.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers.StringArraySerializer;

/** Kryo's {@code String[]} serializer with the array length bounded by the remaining bytes. */
final class BoundedStringArraySerializer extends StringArraySerializer {

  @Override
  @SuppressWarnings("rawtypes")
  public String[] read(Kryo kryo, Input input, Class type) {
    int start = input.position();
    int lengthPlusOne = input.readVarInt(true); // 0 = null
    input.setPosition(start);
    BoundedInput.requireElements(input, Math.max(0, lengthPlusOne - 1L));
    return super.read(kryo, input, type);
  }
}
