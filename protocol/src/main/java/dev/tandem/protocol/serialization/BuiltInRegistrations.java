package dev.tandem.protocol.serialization;

import akka.actor.ExtendedActorSystem;
import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.DefaultArraySerializers;
import com.esotericsoftware.kryo.serializers.DefaultSerializers;
import com.esotericsoftware.kryo.serializers.OptionalSerializers;
import com.esotericsoftware.kryo.serializers.TimeSerializers;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.ActivationBatchKryoSerializer;
import dev.tandem.protocol.activation.ArrowActivationCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * Classes every Tandem Kryo instance knows, with fixed ids below
 * {@link KryoSettings#FIRST_APPLICATION_ID}. Kryo itself pre-registers ids 0-9 (int, String, float,
 * boolean, byte, char, short, long, double, void, with their boxes). Never renumber: ids are the
 * wire format.
 */
public final class BuiltInRegistrations {

  public static final int BYTE_ARRAY = 10;
  public static final int INT_ARRAY = 11;
  public static final int LONG_ARRAY = 12;
  public static final int FLOAT_ARRAY = 13;
  public static final int DOUBLE_ARRAY = 14;
  public static final int BOOLEAN_ARRAY = 15;
  public static final int SHORT_ARRAY = 16;
  public static final int CHAR_ARRAY = 17;
  public static final int STRING_ARRAY = 18;

  public static final int ARRAY_LIST = 20;
  public static final int HASH_MAP = 21;
  public static final int LINKED_HASH_MAP = 22;
  public static final int HASH_SET = 23;
  public static final int LINKED_HASH_SET = 24;
  public static final int IMMUTABLE_LIST_12 = 25;
  public static final int IMMUTABLE_LIST_N = 26;
  public static final int IMMUTABLE_SUB_LIST = 27;
  public static final int UNMODIFIABLE_LIST = 28;
  public static final int IMMUTABLE_SET_12 = 29;
  public static final int IMMUTABLE_SET_N = 30;
  public static final int IMMUTABLE_MAP_1 = 31;
  public static final int IMMUTABLE_MAP_N = 32;

  public static final int OPTIONAL = 40;
  public static final int UUID_ID = 41;
  public static final int DURATION = 42;
  public static final int INSTANT = 43;

  public static final int TYPED_ACTOR_REF = 50;
  public static final int CLASSIC_ACTOR_REF = 51;

  public static final int ACTIVATION_BATCH = 60;

  private BuiltInRegistrations() {
  }

  static void registerAll(Kryo kryo, ExtendedActorSystem system, Supplier<ArrowActivationCodec> arrow) {
    kryo.register(byte[].class, new DefaultArraySerializers.ByteArraySerializer(), BYTE_ARRAY);
    kryo.register(int[].class, new DefaultArraySerializers.IntArraySerializer(), INT_ARRAY);
    kryo.register(long[].class, new DefaultArraySerializers.LongArraySerializer(), LONG_ARRAY);
    kryo.register(float[].class, new DefaultArraySerializers.FloatArraySerializer(), FLOAT_ARRAY);
    kryo.register(double[].class, new DefaultArraySerializers.DoubleArraySerializer(), DOUBLE_ARRAY);
    kryo.register(boolean[].class, new DefaultArraySerializers.BooleanArraySerializer(), BOOLEAN_ARRAY);
    kryo.register(short[].class, new DefaultArraySerializers.ShortArraySerializer(), SHORT_ARRAY);
    kryo.register(char[].class, new DefaultArraySerializers.CharArraySerializer(), CHAR_ARRAY);
    kryo.register(String[].class, new BoundedStringArraySerializer(), STRING_ARRAY);

    BoundedCollectionSerializers.BoundedCollectionSerializer collections =
        new BoundedCollectionSerializers.BoundedCollectionSerializer();
    BoundedCollectionSerializers.BoundedMapSerializer maps = new BoundedCollectionSerializers.BoundedMapSerializer();
    kryo.register(ArrayList.class, collections, ARRAY_LIST);
    kryo.register(HashMap.class, maps, HASH_MAP);
    kryo.register(LinkedHashMap.class, maps, LINKED_HASH_MAP);
    kryo.register(HashSet.class, collections, HASH_SET);
    kryo.register(LinkedHashSet.class, collections, LINKED_HASH_SET);

    JdkImmutableSerializers.ListSerializer lists = new JdkImmutableSerializers.ListSerializer();
    JdkImmutableSerializers.SetSerializer sets = new JdkImmutableSerializers.SetSerializer();
    JdkImmutableSerializers.MapSerializer immutableMaps = new JdkImmutableSerializers.MapSerializer();
    kryo.register(List.of(1).getClass(), lists, IMMUTABLE_LIST_12);
    kryo.register(List.of(1, 2, 3).getClass(), lists, IMMUTABLE_LIST_N);
    kryo.register(List.of(1, 2, 3).subList(0, 1).getClass(), lists, IMMUTABLE_SUB_LIST);
    kryo.register(Collections.unmodifiableList(new ArrayList<>()).getClass(), lists, UNMODIFIABLE_LIST);
    kryo.register(Set.of(1).getClass(), sets, IMMUTABLE_SET_12);
    kryo.register(Set.of(1, 2, 3).getClass(), sets, IMMUTABLE_SET_N);
    kryo.register(Map.of(1, 1).getClass(), immutableMaps, IMMUTABLE_MAP_1);
    kryo.register(Map.of(1, 1, 2, 2).getClass(), immutableMaps, IMMUTABLE_MAP_N);

    kryo.register(Optional.class, new OptionalSerializers.OptionalSerializer(), OPTIONAL);
    kryo.register(UUID.class, new DefaultSerializers.UUIDSerializer(), UUID_ID);
    kryo.register(Duration.class, new TimeSerializers.DurationSerializer(), DURATION);
    kryo.register(Instant.class, new TimeSerializers.InstantSerializer(), INSTANT);

    kryo.register(akka.actor.typed.ActorRef.class, new ActorRefSerializers.Typed(system), TYPED_ACTOR_REF);
    kryo.register(akka.actor.ActorRef.class, new ActorRefSerializers.Classic(system), CLASSIC_ACTOR_REF);

    kryo.register(ActivationBatch.class, new ActivationBatchKryoSerializer(arrow), ACTIVATION_BATCH);
  }
}
