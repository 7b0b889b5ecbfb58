package dev.tandem.protocol.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.serializers.CollectionSerializer;
import com.esotericsoftware.kryo.serializers.MapSerializer;
import java.util.Collection;
import java.util.Map;

/**
 * Kryo's collection and map serializers, except that the size read from the wire is checked
 * against the remaining bytes before the collection is pre-sized with it (see {@link BoundedInput}).
 */
final class BoundedCollectionSerializers {

  private BoundedCollectionSerializers() {
  }

  @SuppressWarnings("rawtypes")
  static final class BoundedCollectionSerializer extends CollectionSerializer<Collection> {
    @Override
    protected Collection create(Kryo kryo, Input input, Class<? extends Collection> type, int size) {
      BoundedInput.requireElements(input, size);
      return super.create(kryo, input, type, size);
    }
  }

  @SuppressWarnings("rawtypes")
  static final class BoundedMapSerializer extends MapSerializer<Map> {
    @Override
    protected Map create(Kryo kryo, Input input, Class<? extends Map> type, int size) {
      BoundedInput.requireElements(input, size);
      return super.create(kryo, input, type, size);
    }
  }
}
