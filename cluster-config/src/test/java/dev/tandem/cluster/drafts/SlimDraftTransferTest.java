package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import com.typesafe.config.Config;
import dev.tandem.cluster.NodeSettings;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.EmbeddingDigest;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.draft.SlimCheckpoint;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.spec.Draft;
import dev.tandem.engine.spec.DraftModelProposer;
import dev.tandem.engine.spec.Proposer;
import dev.tandem.engine.spec.TokenHistory;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftCopies;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two nodes (own ActorSystems and draft directories, one Akka cluster over Artery on loopback, Kryo on the
 * wire): a version whose embedding the receiver already holds travels without it, and is adopted bit for bit
 * around the receiver's own array; a version with an embedding the receiver lacks travels whole; a slim
 * transfer that arrives corrupt is refused and the version is fetched whole instead. And a receiver that is serving
 * puts its transfers off ({@code tandem.drafts.serving-fetch}), for at most the deferral it is allowed.
 */
class SlimDraftTransferTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    /** A target-sized embedding (4096 x 32) that dominates the checkpoint, as stories15M's does. */
    private static final DraftConfig CONFIG = new DraftConfig(32, 64, 1, 4, 2, 4096, 128, 64, 1e-5f, 10000f);
    private static final Pattern BYTES = Pattern.compile(
            Pattern.quote(DraftMetrics.TRANSFER_BYTES) + "\\{form=\"(slim|whole)\"} ([0-9.Ee+]+)");

    @TempDir
    static Path homes;

    private static final Duration MAX_DEFERRAL = Duration.ofSeconds(3);
    /** What the receiver's replicator reads as "this node is serving". */
    private static final java.util.concurrent.atomic.AtomicBoolean RECEIVER_SERVING = new java.util.concurrent.atomic.AtomicBoolean();

    private static Node sender;
    private static Node receiver;

    private record Node(ActorSystem<Void> system, DraftRegistry registry, ActorRef<DraftReplicator.Command> replicator) {}

    @BeforeAll
    static void start() throws Exception {
        receiver = node(homes.resolve("receiver"), RECEIVER_SERVING::get);
        sender = node(homes.resolve("sender"), null);
        Cluster.get(receiver.system()).manager().tell(Join.create(receiver.system().address()));
        Cluster.get(sender.system()).manager().tell(Join.create(receiver.system().address()));
    }

    private static Node node(Path home, BooleanSupplier serving) throws Exception {
        Config config = NodeSettings.load("embedded", Map.of(
                "tandem.drafts.chunk-bytes", 8192,
                "tandem.drafts.resync-interval", "1s",
                "tandem.drafts.serving-fetch.pause", "50ms",
                "tandem.drafts.serving-fetch.max-deferral", MAX_DEFERRAL.toMillis() + "ms")).actorSystemConfig();
        DraftsSettings settings = DraftsSettings.fromConfig(config);
        DraftRegistry registry = DraftRegistry.open(home.resolve("drafts"));
        CompletableFuture<ActorRef<DraftReplicator.Command>> replicator = new CompletableFuture<>();
        ActorSystem<Void> system = ActorSystem.create(Behaviors.setup(context -> {
            replicator.complete(context.spawn(DraftReplicator.create(registry, settings, "m", null, serving), DraftReplicator.ACTOR_NAME,
                    DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER)));
            return Behaviors.<Void>empty();
        }), NodeSettings.SYSTEM_NAME, config);
        return new Node(system, registry, replicator.get(30, TimeUnit.SECONDS));
    }

    @AfterAll
    static void stop() {
        for (Node n : new Node[] {sender, receiver}) if (n != null) n.system().terminate();
        for (Node n : new Node[] {sender, receiver}) if (n != null) n.system().getWhenTerminated().toCompletableFuture().join();
    }

    @Test
    void anEmbeddingTheReceiverHoldsIsNotSentAgainAndACorruptSlimTransferIsRefused() throws Exception {
        // 1. The receiver has no draft: the first version travels whole.
        DraftModel v1 = draft(1);
        publish(sender.registry(), "general", v1);
        awaitLive(receiver, "general", 1);
        long whole1 = Files.size(sender.registry().checkpoint("general", 1).orElseThrow());
        assertEquals(whole1, transferred(receiver, "whole"));
        assertEquals(0, transferred(receiver, "slim"));
        float[] receivedEmbedding = receiver.registry().live("general").orElseThrow().parameters().embedding();
        assertNotSame(v1.parameters().embedding(), receivedEmbedding, "two systems, two arrays (read from the wire)");

        // 2. The next version was trained with the embedding frozen (the trainer's candidates share the live
        // draft's array): it travels slim, far below the whole checkpoint, and is adopted around the receiver's array.
        DraftModel live1 = sender.registry().live("general").orElseThrow();
        DraftModel v2 = trained(live1, 2);
        assertSame(live1.parameters().embedding(), v2.parameters().embedding());
        publish(sender.registry(), "general", v2);
        awaitLive(receiver, "general", 2);
        long slim = transferred(receiver, "slim");
        long whole2 = Files.size(sender.registry().checkpoint("general", 2).orElseThrow());
        assertEquals(whole2 - (long) CONFIG.vocabSize() * CONFIG.dim() * Float.BYTES, slim);
        assertTrue(slim < whole2 / 5, slim + " bytes of " + whole2);
        DraftModel adopted = receiver.registry().live("general").orElseThrow();
        assertSame(receivedEmbedding, adopted.parameters().embedding(), "the receiver's own embedding array, not a copy");
        assertBitForBit(sender.registry().live("general").orElseThrow(), adopted);
        assertEquals(proposals(v2), proposals(adopted));
        // What the receiver persisted is the whole checkpoint, identical to the sender's file.
        assertArrayEquals(Files.readAllBytes(sender.registry().checkpoint("general", 2).orElseThrow()),
                Files.readAllBytes(receiver.registry().checkpoint("general", 2).orElseThrow()));

        // 3. A class trained from scratch has an embedding the receiver lacks: it travels whole.
        publish(sender.registry(), "animals", draft(3));
        awaitLive(receiver, "animals", 1);
        assertEquals(whole1 + Files.size(sender.registry().checkpoint("animals", 1).orElseThrow()), transferred(receiver, "whole"));
        assertEquals(slim, transferred(receiver, "slim"));
        assertBitForBit(sender.registry().live("animals").orElseThrow(), receiver.registry().live("animals").orElseThrow());

        // 4. A peer whose slim chunks arrive corrupt (one flipped bit): refused, then fetched whole and adopted intact.
        DraftModel forged = trained(live1, 4).withVersion(7, "space");
        Path file = homes.resolve("corrupting-peer.draft");
        DraftCheckpoint.write(file, forged);
        List<Boolean> fetches = new CopyOnWriteArrayList<>();
        sender.system().systemActorOf(CorruptingPeer.create(file, forged, receiver.system().address().toString(), fetches),
                "corrupting-peer", akka.actor.typed.Props.empty());
        awaitLive(receiver, "space", 7);
        assertTrue(fetches.contains(true) && fetches.get(fetches.size() - 1) == Boolean.FALSE, "slim first, whole last: " + fetches);
        assertTrue(NodeMetrics.of(receiver.system()).scrape().contains(DraftMetrics.TRANSFERS + "{result=\"failed\"} 1"),
                NodeMetrics.of(receiver.system()).scrape());
        assertBitForBit(forged, receiver.registry().live("space").orElseThrow());
        assertEquals(slim, transferred(receiver, "slim"), "the refused slim transfer is not counted as adopted");
    }

    @Test
    void aServingReceiverPutsTransfersOffForAtMostItsDeferral() throws Exception {
        try {
            // Serving, then idle: the transfer pauses (a fifth of its deferral, in 50 ms pauses) with nothing adopted,
            // then goes on.
            RECEIVER_SERVING.set(true);
            double pausesBefore = fetchPauses(receiver);
            publish(sender.registry(), "cooking", draft(11));
            awaitCondition(() -> fetchPauses(receiver) >= pausesBefore + 12, () -> "waited " + WAIT + " for the receiver's transfer to pause");
            assertTrue(receiver.registry().live("cooking").isEmpty(), "adopted while the receiver was serving");
            RECEIVER_SERVING.set(false);
            awaitLive(receiver, "cooking", 1);

            // Serving all along: the transfer waits its deferral out, then completes anyway.
            RECEIVER_SERVING.set(true);
            long start = System.nanoTime();
            publish(sender.registry(), "cooking", trained(sender.registry().live("cooking").orElseThrow(), 12));
            awaitLive(receiver, "cooking", 2);
            long waited = System.nanoTime() - start;
            assertTrue(waited >= MAX_DEFERRAL.toNanos() - Duration.ofMillis(100).toNanos(), "adopted after " + waited / 1_000_000 + " ms");
            assertBitForBit(sender.registry().live("cooking").orElseThrow(), receiver.registry().live("cooking").orElseThrow());
        } finally {
            RECEIVER_SERVING.set(false);
        }
    }

    /**
     * A node that offers one version and answers fetches from its checkpoint file, flipping one bit of the slim
     * form's second chunk (as a faulty link or sender would); whole chunks go out intact.
     */
    private static final class CorruptingPeer {
        private record Found(ActorRef<DraftReplicator.Command> receiver) {}

        static Behavior<Object> create(Path file, DraftModel draft, String receiverAddress, List<Boolean> fetches) throws IOException {
            long bytes = Files.size(file);
            return Behaviors.setup(context -> {
                ActorRef<Receptionist.Listing> listings = context.messageAdapter(Receptionist.Listing.class, l -> new Found(
                        l.getServiceInstances(DraftReplicator.SERVICE_KEY).stream()
                                .filter(r -> r.path().address().toString().equals(receiverAddress)).findFirst().orElse(null)));
                context.getSystem().receptionist().tell(Receptionist.find(DraftReplicator.SERVICE_KEY, listings));
                ActorRef<DraftReplicator.Command> self = context.getSelf().narrow();
                return Behaviors.receive(Object.class)
                        .onMessage(Found.class, found -> {
                            if (found.receiver() == null) { // not listed yet on this node: ask again
                                context.getSystem().receptionist().tell(Receptionist.find(DraftReplicator.SERVICE_KEY, listings));
                            } else {
                                found.receiver().tell(new DraftReplicator.Offer(draft.trafficClass(), draft.version(), 1000, "peer", 0, bytes,
                                        EmbeddingDigest.of(draft.parameters().embedding()), 1, "forged", 0.5, 1.5, 0.4, 100, self));
                            }
                            return Behaviors.same();
                        })
                        .onMessage(DraftReplicator.Fetch.class, f -> {
                            fetches.add(f.slim());
                            f.replyTo().tell(new DraftReplicator.Chunk(f.trafficClass(), f.version(), f.chunk(), chunk(file, f, 8192)));
                            return Behaviors.same();
                        })
                        .onAnyMessage(m -> Behaviors.same())
                        .build();
            });
        }

        private static byte[] chunk(Path file, DraftReplicator.Fetch f, int chunkBytes) throws IOException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                SlimCheckpoint slim = SlimCheckpoint.open(file);
                long size = f.slim() ? slim.size() : ch.size();
                long offset = (long) f.chunk() * chunkBytes;
                ByteBuffer b = ByteBuffer.allocate((int) Math.min(chunkBytes, size - offset));
                if (f.slim()) {
                    slim.read(ch, offset, b);
                    if (f.chunk() == 1) b.array()[17] ^= 0x04;
                } else {
                    while (b.hasRemaining()) ch.read(b, offset + b.position());
                }
                return b.array();
            }
        }
    }

    private static DraftModel draft(long seed) {
        int[] ids = new int[CONFIG.headSize()];
        for (int i = 0; i < ids.length; i++) ids[i] = i * 7;
        return DraftModel.random(CONFIG, new ReducedVocabulary(ids, CONFIG.vocabSize()), seed);
    }

    /** A copy sharing {@code from}'s embedding, every other weight moved (as a training run with the embedding frozen). */
    private static DraftModel trained(DraftModel from, long seed) {
        DraftModel copy = DraftCopies.copy(from, from.version(), from.trafficClass(), true);
        List<float[]> arrays = copy.parameters().arrays();
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        for (float[] a : arrays.subList(1, arrays.size())) {
            for (int i = 0; i < a.length; i++) a[i] += (float) (random.nextGaussian() * 0.01);
        }
        return copy;
    }

    private static void publish(DraftRegistry registry, String cls, DraftModel candidate) {
        AcceptanceMetrics better = new AcceptanceMetrics(0.5, 1.5, 0.4, 100);
        DraftVersion v = registry.submit(cls, candidate, new DraftEvaluator.Comparison(better, AcceptanceMetrics.NONE, true), "test");
        assertEquals(DraftVersion.Status.LIVE, v.status());
    }

    private static void assertBitForBit(DraftModel expected, DraftModel actual) {
        assertEquals(expected.version(), actual.version());
        assertEquals(expected.config(), actual.config());
        assertArrayEquals(expected.vocabulary().tokens(), actual.vocabulary().tokens());
        List<float[]> a = expected.parameters().arrays();
        List<float[]> b = actual.parameters().arrays();
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).length; j++) {
                if (Float.floatToRawIntBits(a.get(i)[j]) != Float.floatToRawIntBits(b.get(i)[j])) {
                    throw new AssertionError("tensor " + i + " differs at " + j + ": " + a.get(i)[j] + " vs " + b.get(i)[j]);
                }
            }
        }
    }

    /** Six greedy drafts after each of a few prompts. */
    private static List<List<Integer>> proposals(DraftModel model) {
        try (ParallelRunner runner = new ParallelRunner(1)) {
            List<List<Integer>> out = new java.util.ArrayList<>();
            for (int[] prompt : new int[][] {{1, 14, 700}, {1, 3000, 21, 9, 4000}}) {
                try (Proposer p = DraftModelProposer.factory(model, CONFIG.vocabSize(), CONFIG.seqLen(), runner)
                        .open(1, SamplerSettings.greedy())) {
                    Draft d = new Draft(6, CONFIG.vocabSize());
                    p.propose(new TokenHistory(prompt, CONFIG.seqLen()), 6, false, d);
                    List<Integer> tokens = new java.util.ArrayList<>();
                    for (int i = 0; i < d.count(); i++) tokens.add(d.token(i));
                    out.add(tokens);
                }
            }
            return out;
        }
    }

    /** Bytes of adopted transfers of that form, from the node's metrics. */
    private static long transferred(Node node, String form) {
        Matcher m = BYTES.matcher(NodeMetrics.of(node.system()).scrape());
        while (m.find()) if (m.group(1).equals(form)) return (long) Double.parseDouble(m.group(2));
        return 0;
    }

    private static double fetchPauses(Node node) {
        Matcher m = Pattern.compile(Pattern.quote(DraftMetrics.FETCH_PAUSES) + " ([0-9.Ee+]+)").matcher(NodeMetrics.of(node.system()).scrape());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    /** Polls {@code condition} until it holds; after {@link #WAIT} fails with {@code failure}'s description. */
    private static void awaitCondition(BooleanSupplier condition, java.util.concurrent.Callable<String> failure) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError(failure.call());
            Thread.sleep(20); // a poll with a deadline, not a wait for time to pass
        }
    }

    private static void awaitLive(Node node, String cls, long version) throws Exception {
        awaitCondition(() -> node.registry().live(cls).map(d -> d.version() == version).orElse(false),
                () -> cls + " never reached v" + version + " on " + node.system().address() + "; live: "
                        + AskPattern.<DraftReplicator.Command, Map<String, Long>>ask(node.replicator(), DraftReplicator.GetLive::new,
                        Duration.ofSeconds(10), node.system().scheduler()).toCompletableFuture().get(10, TimeUnit.SECONDS));
    }
}
