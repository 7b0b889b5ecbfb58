package dev.tandem.protocol.serialization;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class KryoSettingsTest {

  private static Config withRegistrations(String... entries) {
    StringBuilder text = new StringBuilder();
    for (String e : entries) {
      text.append("tandem.serialization.kryo.registrations += ").append(e).append('\n');
    }
    return ConfigFactory.parseString(text.toString()).withFallback(ConfigFactory.defaultReference()).resolve();
  }

  /** The protocol module's own messages (the direct transport's discovery), appended in its reference.conf. */
  private static final List<String> PROTOCOL_REGISTRATIONS = List.of(
      "dev.tandem.protocol.transport.DirectEndpoint$WhereIsDirect",
      "dev.tandem.protocol.transport.DirectEndpoint$DirectAddress");

  @Test
  void referenceDefaultsHoldOnlyTheProtocolsOwnRegistrations() {
    KryoSettings settings = KryoSettings.fromConfig(ConfigFactory.defaultReference());
    assertEquals(PROTOCOL_REGISTRATIONS, settings.registrations().stream().map(KryoRegistration::className).toList());
    assertEquals(1 << 20, settings.maxMessageBytes());
    assertEquals(16 << 20, settings.maxActivationBytes());
  }

  @Test
  void appendedRegistrationsFromSeveralFilesAccumulate() {
    Config first = ConfigFactory.parseString(
        "tandem.serialization.kryo.registrations += { class = a.A, id = 300 }");
    Config second = ConfigFactory.parseString(
        "tandem.serialization.kryo.registrations += { class = b.B, id = 400, serializer = b.BSer }");
    Config merged = first.withFallback(second).withFallback(ConfigFactory.defaultReference()).resolve();
    List<KryoRegistration> registrations = KryoSettings.fromConfig(merged).registrations();
    assertEquals(2 + PROTOCOL_REGISTRATIONS.size(), registrations.size());
    KryoRegistration b = registrations.stream().filter(r -> r.className().equals("b.B")).findFirst().orElseThrow();
    assertEquals(400, b.id());
    assertEquals(Optional.of("b.BSer"), b.serializerClassName());
  }

  @Test
  void duplicateIdIsRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KryoSettings.fromConfig(
        withRegistrations("{ class = a.A, id = 300 }", "{ class = a.B, id = 300 }")));
    assertTrue(e.getMessage().contains("300"), e.getMessage());
  }

  @Test
  void sameClassWithTwoIdsIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> KryoSettings.fromConfig(
        withRegistrations("{ class = a.A, id = 300 }", "{ class = a.A, id = 301 }")));
  }

  @Test
  void reservedIdIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> KryoSettings.fromConfig(
        withRegistrations("{ class = a.A, id = 60 }")));
  }
}
