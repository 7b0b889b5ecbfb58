package dev.tandem.worker;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The made-up step messages of {@link StepCodecWarmUp} go through the node's real serializers both ways (Arrow for
 * hidden states, Kryo with required registration for the rest, actor references resolved back): a message the
 * serializers refused would end the warm-up with a warning and leave the codecs cold.
 */
class StepCodecWarmUpTest {

    private static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString("""
            akka.actor.provider = cluster
            akka.remote.artery.canonical.hostname = 127.0.0.1
            akka.remote.artery.canonical.port = 0
            """).withFallback(ConfigFactory.load()));

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    @Test
    void everyMadeUpMessageRoundTripsThroughTheSerializers() {
        ActorRef<StageActor.Command> stage = testKit.<StageActor.Command>createTestProbe().ref();
        ActorRef<StageActor.StepReply> replies = testKit.<StageActor.StepReply>createTestProbe().ref();
        // Two batch shapes (one row, sixteen) times three messages (ForwardHidden, ForwardTokens, StepVerified).
        assertEquals(2 * 3 * 5, StepCodecWarmUp.run(testKit.system(), stage, replies, 288, 5));
    }
}
