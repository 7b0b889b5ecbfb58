package dev.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import dev.tandem.engine.parallel.WarmUpScheduling;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.activation.RowFlags;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Serializes and deserializes made-up step messages (hidden states as Arrow, token rows and verified tokens as
 * Kryo) through the node's own serializers on a background thread when a worker node starts, so that a stage placed
 * here later (a failover to a standby, where no warm-up may lengthen the outage, or a rebalance) does not pay the
 * codecs' one-time set-up on its first step. In a fresh JVM the first Arrow round trip of a one-row batch took
 * 368 ms (class loading, allocator set-up), the next nine 0.48 ms each, the next ninety 0.08 ms; they settle at
 * 0.013 ms only after ~3,000. A few hundred round trips take the set-up off the first client step: after a join onto
 * a fresh worker (the route warm-up off), the first request's first token came after 710-728 ms against 1227-1359
 * without, with 200 and 3,000 round trips alike; 3,000, which run for seconds on a cold JVM, slowed the requests of
 * the first seconds (63-72 tok/s for the first against 88-100, two runs each), 200 did not (138). Scheduled as the
 * kernels' warm-ups are ({@link WarmUpScheduling}: idle CPU class first).
 */
final class StepCodecWarmUp {

    private static final Logger LOG = LoggerFactory.getLogger(StepCodecWarmUp.class);
    /** Width of the made-up hidden states (stories15M's): the codecs' code paths do not depend on it. */
    private static final int DIM = 288;
    /** Rows of the made-up batches: a lone decoding row, and a batch of several streams or a verification. */
    private static final int[] ROWS = {1, 16};

    private StepCodecWarmUp() {}

    /** Starts the daemon thread: {@code trips} round trips of each message shape. */
    static Thread start(ActorSystem<?> system, int trips) {
        Thread t = new Thread(() -> {
            try {
                long started = System.nanoTime();
                int done = run(system, system.deadLetters(), system.deadLetters(), DIM, trips);
                LOG.debug("step codecs warmed: {} round trips in {} ms", done, (System.nanoTime() - started) / 1_000_000);
            } catch (RuntimeException e) {
                // Only a warm-up: the stages serialize the same messages and report any real failure.
                LOG.warn("step codec warm-up stopped: {}", e.toString());
            }
        }, "tandem-step-codec-warm-up");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Runs {@code trips} round trips of each message shape on this thread; returns how many ran in all. */
    static int run(ActorSystem<?> system, ActorRef<StageActor.Command> stage, ActorRef<StageActor.StepReply> replyTo, int dim, int trips) {
        WarmUpScheduling scheduling = WarmUpScheduling.enter();
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(system));
        List<Object> messages = new ArrayList<>();
        for (int rows : ROWS) {
            long[] seqIds = new long[rows];
            int[] positions = new int[rows];
            int[] flags = new int[rows];
            int[] tokens = new int[rows];
            int[] counts = new int[rows];
            for (int r = 0; r < rows; r++) {
                seqIds[r] = r + 1;
                positions[r] = r;
                flags[r] = RowFlags.WANT_LOGITS;
                tokens[r] = 1;
                counts[r] = 1;
            }
            List<StageActor.SequenceSampling> sampling = List.of(new StageActor.SequenceSampling(1, SamplerSettings.greedy()));
            ActivationBatch batch = new ActivationBatch("warm-up", 1, dim, seqIds, positions, flags, new float[rows * dim]);
            messages.add(new StageActor.ForwardHidden(batch, sampling, List.of(), List.of(stage, stage), 1, replyTo));
            messages.add(new StageActor.ForwardTokens(1, "warm-up", seqIds, positions, tokens, flags, sampling, List.of(),
                    List.of(stage, stage), replyTo));
            messages.add(new StageActor.StepVerified(1, seqIds, counts, tokens));
        }
        int done = 0;
        for (int i = 0; i < trips; i++) {
            if (i % 100 == 0) scheduling.check();
            for (Object message : messages) {
                Serializer serializer = serialization.findSerializerFor(message);
                byte[] bytes = serializer.toBinary(message);
                serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
                done++;
            }
        }
        return done;
    }
}
