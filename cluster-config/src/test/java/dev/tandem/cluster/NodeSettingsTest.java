package dev.tandem.cluster;

import com.typesafe.config.Config;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NodeSettingsTest {

    @Test
    void defaultsComeFromTheLocalProfileAndReferenceConf() {
        NodeSettings s = NodeSettings.load(null, Map.of());
        assertEquals(Set.of(NodeRole.WORKER), s.roles());
        assertEquals("127.0.0.1", s.host());
        assertEquals(25520, s.port());
        assertEquals(List.of(), s.seeds());
        assertEquals(50051, s.grpcPort());
        assertEquals("stories15M", s.modelName());
        assertEquals(Duration.ofSeconds(60), s.joinTimeout());
        Config akka = s.actorSystemConfig();
        assertEquals("cluster", akka.getString("akka.actor.provider"));
        assertEquals("akka.cluster.sbr.SplitBrainResolverProvider", akka.getString("akka.cluster.downing-provider-class"));
        assertEquals("keep-majority", akka.getString("akka.cluster.split-brain-resolver.active-strategy"));
    }

    @Test
    void overridesWinAndDriveTheDerivedAkkaAndModuleSettings() {
        NodeSettings s = NodeSettings.load("local", Map.of(
                "tandem.node.roles", List.of("coordinator", "worker"),
                "tandem.node.port", 25600,
                "tandem.node.seeds", List.of("127.0.0.1:25520", "[::1]:25521"),
                "tandem.node.model", "/models/tiny-q8_0.gguf",
                "tandem.node.threads", 3));
        assertEquals(Set.of(NodeRole.COORDINATOR, NodeRole.WORKER), s.roles());
        assertEquals(List.of(new HostAndPort("127.0.0.1", 25520), new HostAndPort("::1", 25521)), s.seeds());
        Config c = s.actorSystemConfig();
        assertEquals(25600, c.getInt("akka.remote.artery.canonical.port"));
        assertEquals(List.of("coordinator", "worker"), c.getStringList("akka.cluster.roles"));
        // The model replaces the reference's map instead of merging into it.
        assertEquals(Set.of("tiny-q8_0"), c.getConfig("tandem.worker.models").root().keySet());
        assertEquals("/models/tiny-q8_0.gguf", c.getString("tandem.coordinator.models.tiny-q8_0"));
        assertEquals("tiny-q8_0", c.getString("tandem.coordinator.default-model"));
        assertEquals(3, c.getInt("tandem.worker.threads"));
        assertEquals("akka://tandem@[::1]:25521", NodeSettings.akkaAddress(s.seeds().get(1)));
    }

    @Test
    void theEmbeddedProfilePicksFreePorts() {
        assertEquals(0, NodeSettings.load(EmbeddedCluster.PROFILE, Map.of()).port());
    }

    @Test
    void badInputIsRefusedWithAMessage() {
        IllegalArgumentException profile = assertThrows(IllegalArgumentException.class, () -> NodeSettings.load("moon", Map.of()));
        assertTrue(profile.getMessage().contains("unknown profile \"moon\""));
        IllegalArgumentException role = assertThrows(IllegalArgumentException.class,
                () -> NodeSettings.load(null, Map.of("tandem.node.roles", List.of("boss"))));
        assertTrue(role.getMessage().contains("unknown role \"boss\""));
        assertThrows(IllegalArgumentException.class, () -> HostAndPort.parse("localhost"));
        assertThrows(IllegalArgumentException.class, () -> HostAndPort.parse("localhost:http"));
        assertThrows(IllegalArgumentException.class, () -> HostAndPort.parse("localhost:70000"));
    }
}
