package dev.tandem.protocol;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/** Local (non-clustered) actor systems carrying the test message registrations. */
public final class TestSystems {

  /** Registrations for the test messages, appended the way a module's reference.conf does. */
  public static final String TEST_REGISTRATIONS = """
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Ping", id = 900 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Job", id = 901 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Priority", id = 902 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Node", id = 903 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$StageForward", id = 904 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Blob", id = 905 }
      tandem.serialization.kryo.registrations += { class = "dev.tandem.protocol.TestMessages$Sized", id = 906 }
      """;

  private TestSystems() {
  }

  public static ActorSystem<Void> create(String name, String extraConfig) {
    Config config = ConfigFactory.parseString(extraConfig + "\n" + TEST_REGISTRATIONS)
        .withFallback(ConfigFactory.load())
        .resolve();
    return ActorSystem.create(Behaviors.empty(), name, config);
  }
}
