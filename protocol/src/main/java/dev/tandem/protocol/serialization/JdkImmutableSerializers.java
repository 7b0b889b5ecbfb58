package dev.tandem.protocol.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Serializers for the JDK's unmodifiable collections ({@code List.of}, {@code List.copyOf},
 * {@code Stream.toList}, {@code Set.of}, {@code Map.of}, ...), which records should hold. Sizes are
 * bounded like {@link BoundedInput}; elements are written with their class id, so they must be
 * registered too. Reading always yields an unmodifiable collection again.
 */
final class JdkImmutableSerializers {

  private JdkImmutableSerializers() {
  }

  static final class ListSerializer extends Serializer<List<Object>> {
    ListSerializer() {
      super(false, true);
    }

    @Override
    public void write(Kryo kryo, Output output, List<Object> list) {
      output.writeVarInt(list.size(), true);
      for (Object element : list) {
        kryo.writeClassAndObject(output, element);
      }
    }

    @Override
    public List<Object> read(Kryo kryo, Input input, Class<? extends List<Object>> type) {
      Object[] elements = readElements(kryo, input);
      for (Object element : elements) {
        if (element == null) {
          // Stream.toList() permits nulls, List.of does not
          return Collections.unmodifiableList(Arrays.asList(elements));
        }
      }
      return List.of(elements);
    }
  }

  static final class SetSerializer extends Serializer<Set<Object>> {
    SetSerializer() {
      super(false, true);
    }

    @Override
    public void write(Kryo kryo, Output output, Set<Object> set) {
      output.writeVarInt(set.size(), true);
      for (Object element : set) {
        kryo.writeClassAndObject(output, element);
      }
    }

    @Override
    public Set<Object> read(Kryo kryo, Input input, Class<? extends Set<Object>> type) {
      return Set.of(readElements(kryo, input)); // rejects nulls and duplicates from corrupted bytes
    }
  }

  static final class MapSerializer extends Serializer<Map<Object, Object>> {
    MapSerializer() {
      super(false, true);
    }

    @Override
    public void write(Kryo kryo, Output output, Map<Object, Object> map) {
      output.writeVarInt(map.size(), true);
      for (Map.Entry<Object, Object> e : map.entrySet()) {
        kryo.writeClassAndObject(output, e.getKey());
        kryo.writeClassAndObject(output, e.getValue());
      }
    }

    @Override
    public Map<Object, Object> read(Kryo kryo, Input input, Class<? extends Map<Object, Object>> type) {
      int size = input.readVarInt(true);
      BoundedInput.requireElements(input, 2L * size);
      Map<Object, Object> entries = new HashMap<>(size * 2);
      for (int i = 0; i < size; i++) {
        Object key = kryo.readClassAndObject(input);
        Object value = kryo.readClassAndObject(input);
        if (entries.put(key, value) != null) {
          throw new KryoException("duplicate key in immutable map: " + key);
        }
      }
      return Map.copyOf(entries); // rejects null keys and values
    }
  }

  private static Object[] readElements(Kryo kryo, Input input) {
    int size = input.readVarInt(true);
    BoundedInput.requireElements(input, size);
    Object[] elements = new Object[size];
    for (int i = 0; i < size; i++) {
      elements[i] = kryo.readClassAndObject(input);
    }
    return elements;
  }
}
