package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.Behaviors;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.typesafe.config.ConfigFactory;
import dev.tandem.protocol.serialization.KryoSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The replicator's messages between nodes survive Akka serialization (Kryo, registered ids) intact. */
class DraftMessagesSerializationTest {

    private static ActorSystem<DraftReplicator.Command> system;

    @BeforeAll
    static void start() {
        system = ActorSystem.create(Behaviors.empty(), "draft-messages", ConfigFactory.load());
    }

    @AfterAll
    static void stop() {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().join();
    }

    @Test
    void everyReplicatorMessageRoundTrips() {
        ActorRef<DraftReplicator.Command> ref = system;
        String digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        for (String d : new String[] {digest, ""}) {
            DraftReplicator.Offer offer = new DraftReplicator.Offer("general", 12, 40, "akka://tandem@127.0.0.1:25520", 11,
                    45_612_345L, d, 1_700_000_000_000L, "online: 40 steps", 0.61, 1.9, 0.55, 12_000, ref);
            assertEquals(offer, roundTrip(offer));
        }
        for (boolean slim : new boolean[] {true, false}) {
            DraftReplicator.Fetch fetch = new DraftReplicator.Fetch("animals", 3, 173, slim, ref);
            assertEquals(fetch, roundTrip(fetch));
        }
        DraftReplicator.Unavailable unavailable = new DraftReplicator.Unavailable("general", 2, "no checkpoint of that version");
        assertEquals(unavailable, roundTrip(unavailable));

        byte[] bytes = new byte[256 * 1024]; // a default-sized chunk, under max-message-bytes with its envelope
        new Random(5).nextBytes(bytes);
        DraftReplicator.Chunk chunk = new DraftReplicator.Chunk("general", 12, 7, bytes);
        DraftReplicator.Chunk back = (DraftReplicator.Chunk) roundTrip(chunk);
        assertEquals(Arrays.asList("general", 12L, 7), Arrays.asList(back.trafficClass(), back.version(), back.chunk()));
        assertArrayEquals(bytes, back.bytes());
        int serialized = SerializationExtension.get(Adapter.toClassic(system)).serialize(chunk).get().length;
        assertTrue(serialized <= chunk.sizeHintBytes() && serialized > bytes.length,
                serialized + " bytes serialized, hint " + chunk.sizeHintBytes() + ": the output buffer is sized once, never grown");
    }

    private static Object roundTrip(Object message) {
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(system));
        Serializer serializer = serialization.findSerializerFor(message);
        assertEquals(KryoSerializer.IDENTIFIER, serializer.identifier(), "serializer of " + message.getClass().getName());
        byte[] bytes = serialization.serialize(message).get();
        return serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
    }
}
