package dev.tandem.cluster.drafts;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import akka.pattern.StatusReply;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.DraftAdmin;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.EmbeddingDigest;
import dev.tandem.engine.draft.SlimCheckpoint;
import dev.tandem.protocol.KryoMessage;
import dev.tandem.protocol.SizeHinted;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keeps the live drafts of every node of the cluster in step, one per node (spawned as {@link #ACTOR_NAME},
 * registered under {@link #SERVICE_KEY}). Nodes share no file system, so draft weights travel as messages.
 *
 * <p>Each class's live version carries a stamp (a Lamport clock: a local change, i.e. a publication by the
 * trainer, a rollback, or an operator's promote, takes the highest stamp seen plus one). A node offers its live
 * versions to every other node when they change, when a node appears, and every {@code resync-interval}; an
 * {@link Offer} is small. A receiver whose own version of the class has a lower (stamp, version, origin)
 * adopts the offered one: from its own registry when it still keeps that checkpoint, else by pulling the
 * checkpoint from the offering node in chunks ({@link Fetch} / {@link Chunk}, at most {@code fetch-window}
 * outstanding, on Artery's large-message lane), checking it (the checkpoint's CRC and header) and writing it
 * into its own registry ({@link DraftRegistry#adopt}), whose publishers (on a coordinator, the
 * {@code SwappableDraft} the scheduler opens proposers from) swap it in for new sequences. An offer names the
 * digest of the version's token embedding ({@link EmbeddingDigest}); a receiver that holds a draft with that
 * embedding pulls the checkpoint's {@link SlimCheckpoint slim form} instead and rebuilds the draft around its own
 * array, falling back to the whole checkpoint when that fails.
 *
 * <p>On coordinators it also answers the Admin API's draft calls and, every {@code live-check.interval},
 * compares each class's live version's acceptance on live traffic (draft tokens accepted / proposed at this
 * coordinator, from the scheduler's per-proposer counters) with the version a rollback would restore, and
 * rolls back when the live one does worse by more than the margin.
 *
 * <p>Runs on the {@code tandem.drafts.dispatcher} (it reads and writes checkpoint files).
 */
public final class DraftReplicator {

    public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "tandem-drafts");
    public static final String ACTOR_NAME = "tandem-drafts";

    public sealed interface Command {}

    /**
     * A node's live version of a class, offered to another node. {@code bytes} is the checkpoint's size,
     * {@code embeddingDigest} the {@link EmbeddingDigest} of its embedding ("" = not known: receivers fetch the
     * whole checkpoint); the metrics are those the version was published with (held-out acceptance),
     * {@code origin} the node whose change the stamp belongs to, {@code rolledBack} the version that change rolled
     * back (0 = it was no rollback).
     */
    public record Offer(String trafficClass, long version, long stamp, String origin, long rolledBack, long bytes,
                        String embeddingDigest, long createdMillis, String note, double greedyAcceptance, double expectedAccepted,
                        double sampledAcceptance, long positions,
                        ActorRef<Command> from) implements Command, KryoMessage {}

    /**
     * Asks the offering node for chunk {@code chunk} of a version's checkpoint: of its {@link SlimCheckpoint slim
     * form} (no embedding) when {@code slim}, else of the whole file.
     */
    public record Fetch(String trafficClass, long version, int chunk, boolean slim, ActorRef<Command> replyTo)
            implements Command, KryoMessage {}

    /** Bytes [chunk * chunk-bytes, ...) of a version's checkpoint (in the form the fetch asked for). */
    public record Chunk(String trafficClass, long version, int chunk, byte[] bytes) implements Command, KryoMessage, SizeHinted {
        /** Room for the rest of the message: class id, the numeric fields, lengths (the class name is added per UTF-8 char). */
        private static final int FIELDS_BYTES = 128;

        @Override
        public int sizeHintBytes() {
            return bytes.length + FIELDS_BYTES + trafficClass.length() * 3;
        }
    }

    /** The offering node no longer keeps that checkpoint (the receiver drops the transfer). */
    public record Unavailable(String trafficClass, long version, String reason) implements Command, KryoMessage {}

    /** Every version of every class (Admin ListDrafts), live acceptance where measured. */
    public record ListDrafts(ActorRef<StatusReply<List<DraftAdmin.DraftEntry>>> replyTo) implements Command {}

    /** Makes a kept version live (Admin PromoteDraft); replicated to every node. */
    public record Promote(String trafficClass, long version, ActorRef<StatusReply<DraftAdmin.DraftEntry>> replyTo) implements Command {}

    /** Restores the previous live version (Admin RollbackDraft); replicated to every node. */
    public record Rollback(String trafficClass, ActorRef<StatusReply<DraftAdmin.DraftEntry>> replyTo) implements Command {}

    /** The live version of each class on this node. */
    public record GetLive(ActorRef<Map<String, Long>> replyTo) implements Command {}

    private record LocalLive(String trafficClass, long version) implements Command {}

    private record PeersChanged(Set<ActorRef<Command>> peers) implements Command {}

    private record TransferStalled(String trafficClass, long version, int received) implements Command {}

    /** A transfer's pause for this node's serving is over: fetch on (or pause again). */
    private record ResumeFetch(String trafficClass, long version) implements Command {}

    private enum Tick implements Command { RESYNC, CHECK_LIVE }

    /**
     * Draft tokens proposed and accepted at this node under a draft version's proposer name (live traffic);
     * null on nodes that serve no requests.
     */
    @FunctionalInterface
    public interface LiveAcceptance {
        /** {proposed, accepted} for proposers named {@code proposerName}, summed over the served models. */
        long[] counts(String proposerName);
    }

    /** What this node knows of a class's live version: which, and the stamp of the change that made it live. */
    private record Known(long version, long stamp, String origin, long rolledBack) {
        Known(long version, long stamp, String origin) { this(version, stamp, origin, 0); }

        boolean olderThan(long otherStamp, long otherVersion, String otherOrigin) {
            if (stamp != otherStamp) return stamp < otherStamp;
            if (version != otherVersion) return version < otherVersion;
            return origin.compareTo(otherOrigin) < 0;
        }
    }

    /** A checkpoint being pulled from another node: whole, or slim around {@code embedding} (this node's own array). */
    private static final class Transfer {
        final Offer offer;
        final float[] embedding;
        final long bytes;
        final byte[][] parts;
        int requested;
        int received;
        /** Time this transfer has waited for its node's serving to pause; whether a resume is scheduled. */
        long deferredNanos;
        boolean resumeScheduled;

        Transfer(Offer offer, float[] embedding, long bytes, int chunks) {
            this.offer = offer;
            this.embedding = embedding;
            this.bytes = bytes;
            this.parts = new byte[chunks][];
        }

        boolean slim() { return embedding != null; }
    }

    private static final Pattern TRAINING_STEPS = Pattern.compile("online: (\\d+) steps");

    private final ActorContext<Command> context;
    private final TimerScheduler<Command> timers;
    private final DraftRegistry registry;
    private final DraftsSettings settings;
    private final String model;
    private final LiveAcceptance liveAcceptance;
    /** Whether this node is serving now (sequences decoding), which transfers wait out; null: never. */
    private final BooleanSupplier serving;
    private final DraftMetrics metrics;
    private final String self;
    private final Map<String, Known> known = new TreeMap<>();
    private final Map<String, Transfer> transfers = new HashMap<>();
    /** Per class, the version whose slim transfer failed: it is fetched whole (another slim attempt would fail alike). */
    private final Map<String, Long> slimFailed = new HashMap<>();
    private Set<ActorRef<Command>> peers = Set.of();
    private long clock;

    private DraftReplicator(ActorContext<Command> context, TimerScheduler<Command> timers, DraftRegistry registry,
                            DraftsSettings settings, String model, LiveAcceptance liveAcceptance, BooleanSupplier serving) {
        this.context = context;
        this.serving = serving;
        this.timers = timers;
        this.registry = registry;
        this.settings = settings;
        this.model = model;
        this.liveAcceptance = liveAcceptance;
        this.metrics = new DraftMetrics(context.getSystem());
        this.self = context.getSystem().address().toString();
    }

    /**
     * @param model          the model the drafts are for (named in the Admin API's entries)
     * @param liveAcceptance the scheduler's per-proposer counters on a coordinator, null elsewhere (no live check)
     */
    public static Behavior<Command> create(DraftRegistry registry, DraftsSettings settings, String model, LiveAcceptance liveAcceptance) {
        return create(registry, settings, model, liveAcceptance, null);
    }

    /**
     * As {@link #create(DraftRegistry, DraftsSettings, String, LiveAcceptance)}, with transfers to this node waiting
     * while {@code serving} says it serves ({@code tandem.drafts.serving-fetch}; null: never).
     */
    public static Behavior<Command> create(DraftRegistry registry, DraftsSettings settings, String model, LiveAcceptance liveAcceptance,
                                           BooleanSupplier serving) {
        return Behaviors.setup(context -> Behaviors.withTimers(timers -> {
            // Named after this class whatever behavior first asks for the log (else it may be akka.actor.ActorCell,
            // filtered with Akka's own loggers, and the adoption lines are lost).
            context.setLoggerName(DraftReplicator.class);
            DraftReplicator r = new DraftReplicator(context, timers, registry, settings, model, liveAcceptance, serving);
            ActorRef<Command> me = context.getSelf();
            registry.addPublisher((cls, draft) -> me.tell(new LocalLive(cls, draft.version())));
            for (String cls : registry.classes()) {
                registry.live(cls).ifPresent(d -> {
                    r.known.put(cls, new Known(d.version(), 0, r.self));
                    r.metrics.liveVersion(cls, d.version());
                });
            }
            context.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, me));
            ActorRef<Receptionist.Listing> listings = context.messageAdapter(Receptionist.Listing.class,
                    l -> new PeersChanged(Set.copyOf(l.getServiceInstances(SERVICE_KEY))));
            context.getSystem().receptionist().tell(Receptionist.subscribe(SERVICE_KEY, listings));
            timers.startTimerWithFixedDelay(Tick.RESYNC, settings.resyncInterval());
            if (liveAcceptance != null) timers.startTimerWithFixedDelay(Tick.CHECK_LIVE, settings.liveCheckInterval());
            return r.behavior();
        }));
    }

    private Behavior<Command> behavior() {
        return Behaviors.receive(Command.class)
                .onMessage(LocalLive.class, this::onLocalLive)
                .onMessage(PeersChanged.class, this::onPeers)
                .onMessage(Offer.class, this::onOffer)
                .onMessage(Fetch.class, this::onFetch)
                .onMessage(Chunk.class, this::onChunk)
                .onMessage(Unavailable.class, this::onUnavailable)
                .onMessage(TransferStalled.class, this::onStalled)
                .onMessage(ResumeFetch.class, this::onResumeFetch)
                .onMessageEquals(Tick.RESYNC, this::onResync)
                .onMessageEquals(Tick.CHECK_LIVE, this::onCheckLive)
                .onMessage(ListDrafts.class, this::onList)
                .onMessage(Promote.class, this::onPromote)
                .onMessage(Rollback.class, this::onRollback)
                .onMessage(GetLive.class, this::onGetLive)
                .build();
    }

    // ---- changes and offers

    private Behavior<Command> onLocalLive(LocalLive change) {
        registry.live(change.trafficClass()).ifPresent(d -> metrics.liveVersion(change.trafficClass(), d.version()));
        Known k = known.get(change.trafficClass());
        if (k != null && k.version() == change.version()) return Behaviors.same(); // adopted from a peer: not a change of ours
        Optional<DraftModel> live = registry.live(change.trafficClass());
        // A notification overtaken by a later change (e.g. an adoption processed before it arrived) is stale.
        if (live.isEmpty() || live.get().version() != change.version()) return Behaviors.same();
        // A rollback (here: by an operator, the live check or the trainer) marked the version it replaced rolled back.
        long rolledBack = k != null && registry.entry(change.trafficClass(), k.version())
                .map(v -> v.status() == DraftVersion.Status.ROLLED_BACK).orElse(false) ? k.version() : 0;
        Known now = new Known(change.version(), ++clock, self, rolledBack);
        known.put(change.trafficClass(), now);
        context.getLog().info("draft {} v{} is live here (stamp {}); offering it to {} node(s)", change.trafficClass(),
                change.version(), now.stamp(), peers.size());
        for (ActorRef<Command> peer : peers) offer(change.trafficClass(), now, peer);
        return Behaviors.same();
    }

    private Behavior<Command> onPeers(PeersChanged changed) {
        Set<ActorRef<Command>> others = new HashSet<>(changed.peers());
        others.remove(context.getSelf());
        Set<ActorRef<Command>> fresh = new HashSet<>(others);
        fresh.removeAll(peers);
        peers = Set.copyOf(others);
        for (ActorRef<Command> peer : fresh) offerAll(peer);
        return Behaviors.same();
    }

    private Behavior<Command> onResync() {
        for (ActorRef<Command> peer : peers) offerAll(peer);
        return Behaviors.same();
    }

    private void offerAll(ActorRef<Command> peer) {
        known.forEach((cls, k) -> offer(cls, k, peer));
    }

    private void offer(String cls, Known k, ActorRef<Command> peer) {
        Optional<Path> file = registry.checkpoint(cls, k.version());
        if (file.isEmpty()) return; // not live here any more; a newer change follows
        long bytes;
        try {
            bytes = Files.size(file.get());
        } catch (IOException e) {
            context.getLog().warn("cannot offer draft {} v{}: {}", cls, k.version(), e.toString());
            return;
        }
        DraftVersion entry = registry.entry(cls, k.version()).orElse(null);
        AcceptanceMetrics m = entry == null ? AcceptanceMetrics.NONE : entry.metrics();
        // Hashed once per embedding array (cached), on this dispatcher: the live draft's, which successive versions share.
        String digest = settings.slimTransfers()
                ? registry.inMemory(cls, k.version()).map(d -> EmbeddingDigest.of(d.parameters().embedding())).orElse("") : "";
        peer.tell(new Offer(cls, k.version(), k.stamp(), k.origin(), k.rolledBack(), bytes, digest, entry == null ? 0 : entry.createdMillis(),
                entry == null ? "" : entry.note(), m.greedyAcceptance(), m.expectedAccepted(), m.sampledAcceptance(), m.positions(),
                context.getSelf()));
    }

    private Behavior<Command> onOffer(Offer offer) {
        String cls = offer.trafficClass();
        if (!DraftRegistry.isSafeClassName(cls) || offer.bytes() <= 0 || offer.version() < 1) {
            context.getLog().warn("ignoring a malformed draft offer from {}: class '{}', v{}, {} bytes", offer.from().path().address(),
                    cls, offer.version(), offer.bytes());
            return Behaviors.same();
        }
        clock = Math.max(clock, offer.stamp());
        Known k = known.get(cls);
        if (k != null && !k.olderThan(offer.stamp(), offer.version(), offer.origin())) return Behaviors.same();
        if (k != null && k.version() == offer.version()) { // the same draft, a newer change: only the stamp moves
            known.put(cls, new Known(offer.version(), offer.stamp(), offer.origin(), offer.rolledBack()));
            return Behaviors.same();
        }
        Optional<DraftModel> held = registry.inMemory(cls, offer.version());
        if (held.isPresent()) {
            adopt(offer, held.get(), "kept in memory here, nothing transferred");
            return Behaviors.same();
        }
        Optional<Path> own = registry.checkpoint(cls, offer.version());
        if (own.isPresent()) {
            try {
                adopt(offer, DraftCheckpoint.read(own.get()), "kept on disk here, nothing transferred");
                return Behaviors.same();
            } catch (RuntimeException e) {
                context.getLog().warn("kept checkpoint of draft {} v{} is unusable ({}); fetching it", cls, offer.version(), e.getMessage());
            }
        }
        Transfer running = transfers.get(cls);
        if (running != null && (running.offer.version() == offer.version()
                || !new Known(running.offer.version(), running.offer.stamp(), running.offer.origin())
                        .olderThan(offer.stamp(), offer.version(), offer.origin()))) {
            return Behaviors.same(); // that version (or a newer one) is already coming; a stalled transfer is dropped, then re-offered
        }
        startTransfer(offer, heldEmbedding(offer));
        return Behaviors.same();
    }

    /**
     * The embedding array of a draft held here whose digest is the offer's, if a slim transfer may use it; else
     * null (the whole checkpoint is fetched).
     */
    private float[] heldEmbedding(Offer offer) {
        if (!settings.slimTransfers() || offer.embeddingDigest().isEmpty()) return null;
        if (Long.valueOf(offer.version()).equals(slimFailed.get(offer.trafficClass()))) return null;
        Set<float[]> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (DraftModel d : registry.inMemory()) {
            float[] embedding = d.parameters().embedding();
            // Each distinct array is hashed once (cached); successive versions share one, so this is usually a lookup.
            if (seen.add(embedding) && EmbeddingDigest.of(embedding).equals(offer.embeddingDigest())) return embedding;
        }
        return null;
    }

    private void startTransfer(Offer offer, float[] embedding) {
        long bytes = embedding == null ? offer.bytes() : offer.bytes() - (long) embedding.length * Float.BYTES;
        if (bytes <= 0) { // the offer's size cannot hold that embedding: not a draft this node can rebuild
            embedding = null;
            bytes = offer.bytes();
        }
        long chunks = (bytes + settings.chunkBytes() - 1) / settings.chunkBytes();
        if (chunks > Integer.MAX_VALUE) return;
        Transfer t = new Transfer(offer, embedding, bytes, (int) chunks);
        transfers.put(offer.trafficClass(), t);
        context.getLog().info("fetching draft {} v{} {} ({} of {} bytes in {} chunks) from {}", offer.trafficClass(), offer.version(),
                t.slim() ? "slim (its embedding is held here)" : "whole", bytes, offer.bytes(), chunks, offer.from().path().address());
        fill(t);
        armStallTimer(t);
    }

    /**
     * Asks for chunks until {@code fetch-window} are outstanding, unless this node serves and the transfer may still
     * wait ({@code serving-fetch}): then it asks again after a pause.
     */
    private void fill(Transfer t) {
        if (t.resumeScheduled || t.requested >= t.parts.length || t.requested - t.received >= settings.fetchWindow()) return;
        long pause = settings.servingFetchPause().toNanos();
        if (serving != null && t.deferredNanos + pause <= settings.servingFetchDeferral().toNanos() && serving.getAsBoolean()) {
            t.deferredNanos += pause;
            t.resumeScheduled = true;
            metrics.fetchPaused();
            timers.startSingleTimer("resume-" + t.offer.trafficClass(), new ResumeFetch(t.offer.trafficClass(), t.offer.version()),
                    settings.servingFetchPause());
            return;
        }
        while (t.requested < t.parts.length && t.requested - t.received < settings.fetchWindow()) {
            t.offer.from().tell(new Fetch(t.offer.trafficClass(), t.offer.version(), t.requested++, t.slim(), context.getSelf()));
        }
    }

    private Behavior<Command> onResumeFetch(ResumeFetch r) {
        Transfer t = transfers.get(r.trafficClass());
        if (t != null && t.offer.version() == r.version()) {
            t.resumeScheduled = false;
            fill(t);
        }
        return Behaviors.same();
    }

    private void armStallTimer(Transfer t) {
        timers.startSingleTimer("transfer-" + t.offer.trafficClass(),
                new TransferStalled(t.offer.trafficClass(), t.offer.version(), t.received), settings.transferTimeout());
    }

    private Behavior<Command> onFetch(Fetch fetch) {
        Optional<Path> file = DraftRegistry.isSafeClassName(fetch.trafficClass())
                ? registry.checkpoint(fetch.trafficClass(), fetch.version()) : Optional.empty();
        if (file.isEmpty()) {
            fetch.replyTo().tell(new Unavailable(fetch.trafficClass(), fetch.version(), "no checkpoint of that version here any more"));
            return Behaviors.same();
        }
        try (FileChannel channel = FileChannel.open(file.get(), StandardOpenOption.READ)) {
            // The slim form is served from the same file, skipping the embedding's bytes (only the header is parsed).
            SlimCheckpoint slim = fetch.slim() ? SlimCheckpoint.open(channel, file.get().toString()) : null;
            long offset = (long) fetch.chunk() * settings.chunkBytes();
            long size = slim == null ? channel.size() : slim.size();
            if (fetch.chunk() < 0 || offset >= size) {
                fetch.replyTo().tell(new Unavailable(fetch.trafficClass(), fetch.version(), "chunk " + fetch.chunk() + " is beyond the checkpoint"));
                return Behaviors.same();
            }
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(settings.chunkBytes(), size - offset));
            if (slim != null) {
                if (slim.read(channel, offset, buffer) < buffer.capacity()) throw new IOException("unexpected end of " + file.get());
            } else {
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer, offset + buffer.position()) < 0) throw new IOException("unexpected end of " + file.get());
                }
            }
            fetch.replyTo().tell(new Chunk(fetch.trafficClass(), fetch.version(), fetch.chunk(), buffer.array()));
            metrics.chunkSent();
        } catch (IOException | RuntimeException e) {
            fetch.replyTo().tell(new Unavailable(fetch.trafficClass(), fetch.version(), e.getMessage() == null ? e.toString() : e.getMessage()));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onChunk(Chunk chunk) {
        Transfer t = transfers.get(chunk.trafficClass());
        if (t == null || t.offer.version() != chunk.version() || chunk.chunk() < 0 || chunk.chunk() >= t.parts.length
                || t.parts[chunk.chunk()] != null) {
            return Behaviors.same(); // a transfer given up or replaced
        }
        t.parts[chunk.chunk()] = chunk.bytes();
        t.received++;
        fill(t);
        if (t.received < t.parts.length) {
            armStallTimer(t);
            return Behaviors.same();
        }
        transfers.remove(chunk.trafficClass());
        timers.cancel("transfer-" + chunk.trafficClass());
        complete(t);
        return Behaviors.same();
    }

    private void complete(Transfer t) {
        Offer offer = t.offer;
        long total = 0;
        for (byte[] p : t.parts) total += p.length;
        if (total != t.bytes) {
            fail(t, "received " + total + " bytes, expected " + t.bytes + (t.slim() ? " (slim form)" : ""));
            return;
        }
        String source = offer.trafficClass() + " v" + offer.version() + " from " + offer.from().path().address()
                + (t.slim() ? " (slim form)" : "");
        // Read straight from the received chunks: the registry writes the checkpoint file once it is adopted.
        try (ReadableByteChannel in = Channels.newChannel(new SequenceInputStream(java.util.Collections.enumeration(
                java.util.Arrays.stream(t.parts).map(ByteArrayInputStream::new).toList())))) {
            DraftModel draft = t.slim() ? SlimCheckpoint.read(in, total, source, t.embedding) : DraftCheckpoint.read(in, total, source);
            if (draft.version() != offer.version()) {
                fail(t, "the checkpoint holds version " + draft.version());
                return;
            }
            // Counted before the draft goes live, so whoever sees the new version also sees its bytes counted.
            metrics.transferBytes(t.slim(), total);
            adopt(offer, draft, (t.slim() ? "slim, " : "whole, ") + total + " of " + offer.bytes() + " bytes transferred");
            metrics.transfer(true);
        } catch (IOException | RuntimeException e) {
            fail(t, e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    /** A transfer that failed; a slim one is retried at once as a whole one (which needs no embedding of ours). */
    private void fail(Transfer t, String why) {
        fail(t.offer, why);
        if (t.slim() && !transfers.containsKey(t.offer.trafficClass())) {
            slimFailed.put(t.offer.trafficClass(), t.offer.version());
            context.getLog().info("fetching draft {} v{} whole after its slim transfer failed", t.offer.trafficClass(), t.offer.version());
            startTransfer(t.offer, null);
        }
    }

    private void fail(Offer offer, String why) {
        metrics.transfer(false);
        // A node shutting down deletes its temporary draft directory while a transfer may still be writing to it.
        boolean stopping = CoordinatedShutdown.get(context.getSystem()).getShutdownReason().isPresent();
        context.getLog().atLevel(stopping ? org.slf4j.event.Level.DEBUG : org.slf4j.event.Level.WARN)
                .log("draft {} v{} from {} was not adopted{}: {}", offer.trafficClass(), offer.version(),
                        offer.from().path().address(), stopping ? " (the node is shutting down)" : "", why);
    }

    /** Makes an offered draft live here; the registry's publishers (the local swap, and this actor) are told. */
    private void adopt(Offer offer, DraftModel draft, String how) {
        // Known first: the registry's notification of this change must not be taken for a change of ours.
        known.put(offer.trafficClass(), new Known(offer.version(), offer.stamp(), offer.origin(), offer.rolledBack()));
        AcceptanceMetrics m = new AcceptanceMetrics(offer.greedyAcceptance(), offer.expectedAccepted(), offer.sampledAcceptance(),
                offer.positions());
        registry.adopt(offer.trafficClass(), draft, m, AcceptanceMetrics.NONE, offer.createdMillis() > 0 ? offer.createdMillis()
                : System.currentTimeMillis(), offer.note().isEmpty() ? "from " + offer.origin() : offer.note(), offer.rolledBack());
        context.getLog().info("draft {} v{} from {} is live here ({})", offer.trafficClass(), offer.version(), offer.origin(), how);
    }

    private Behavior<Command> onUnavailable(Unavailable u) {
        Transfer t = transfers.get(u.trafficClass());
        if (t != null && t.offer.version() == u.version()) {
            transfers.remove(u.trafficClass());
            timers.cancel("transfer-" + u.trafficClass());
            fail(t, u.reason());
        }
        return Behaviors.same();
    }

    private Behavior<Command> onStalled(TransferStalled s) {
        Transfer t = transfers.get(s.trafficClass());
        if (t != null && t.offer.version() == s.version() && t.received == s.received()) {
            transfers.remove(s.trafficClass());
            fail(t.offer, "no chunk for " + settings.transferTimeout() + " (" + t.received + " of " + t.parts.length + " received)");
        }
        return Behaviors.same();
    }

    // ---- live acceptance (coordinators)

    private Behavior<Command> onCheckLive() {
        for (String cls : registry.classes()) {
            Optional<DraftModel> live = registry.live(cls);
            if (live.isEmpty()) continue;
            long v = live.get().version();
            long[] now = liveAcceptance.counts(DraftModelName.of(cls, v));
            if (now[0] > 0) metrics.liveAcceptance(cls, (double) now[1] / now[0]);
            long previous = rollbackTarget(cls);
            if (previous < 0 || now[0] < settings.liveMinProposed()) continue;
            long[] before = liveAcceptance.counts(DraftModelName.of(cls, previous));
            if (before[0] < settings.liveMinProposed()) continue;
            double a = (double) now[1] / now[0];
            double b = (double) before[1] / before[0];
            if (a < b - settings.liveMargin()) {
                String why = String.format(Locale.ROOT, "live acceptance %.3f over %d draft tokens, v%d had %.3f over %d", a, now[0],
                        previous, b, before[0]);
                context.getLog().warn("rolling back draft {} v{}: {}", cls, v, why);
                registry.rollback(cls, why);
                metrics.rollback(cls, "live");
            }
        }
        return Behaviors.same();
    }

    /** The version a rollback of the class would restore (the latest retired one with a checkpoint), or -1. */
    private long rollbackTarget(String cls) {
        List<DraftVersion> history = registry.history(cls);
        for (int i = history.size() - 1; i >= 0; i--) {
            DraftVersion v = history.get(i);
            if (v.status() == DraftVersion.Status.RETIRED && registry.checkpoint(cls, v.version()).isPresent()) return v.version();
        }
        return -1;
    }

    // ---- admin

    private Behavior<Command> onList(ListDrafts request) {
        List<DraftAdmin.DraftEntry> out = new ArrayList<>();
        for (String cls : registry.classes()) {
            registry.history(cls).stream()
                    .sorted(Comparator.comparing((DraftVersion v) -> v.status() != DraftVersion.Status.LIVE)
                            .thenComparing(Comparator.comparingLong(DraftVersion::version).reversed()))
                    .forEach(v -> out.add(entry(cls, v)));
        }
        request.replyTo().tell(StatusReply.success(List.copyOf(out)));
        return Behaviors.same();
    }

    private DraftAdmin.DraftEntry entry(String cls, DraftVersion v) {
        long[] counts = liveAcceptance == null ? new long[2] : liveAcceptance.counts(DraftModelName.of(cls, v.version()));
        double acceptance = counts[0] > 0 ? (double) counts[1] / counts[0] : v.metrics().greedyAcceptance();
        Matcher m = TRAINING_STEPS.matcher(v.note());
        long steps = m.find() ? Long.parseLong(m.group(1)) : 0;
        return new DraftAdmin.DraftEntry(model, cls, v.version(), state(v.status()), acceptance, counts[0], steps, v.createdMillis());
    }

    static String state(DraftVersion.Status s) {
        return switch (s) {
            case LIVE -> "live";
            case RETIRED -> "retired";
            case REJECTED -> "rejected";
            case ROLLED_BACK -> "rolled-back";
        };
    }

    private Behavior<Command> onPromote(Promote request) {
        try {
            if (!DraftRegistry.isSafeClassName(request.trafficClass())) {
                throw new AdminException(AdminException.Code.INVALID_ARGUMENT, "'" + request.trafficClass() + "' is not a traffic class name");
            }
            DraftVersion v = registry.promote(request.trafficClass(), request.version(), "by an operator");
            request.replyTo().tell(StatusReply.success(entry(request.trafficClass(), v)));
        } catch (NoSuchElementException e) {
            request.replyTo().tell(StatusReply.error(new AdminException(AdminException.Code.NOT_FOUND, e.getMessage())));
        } catch (IllegalStateException e) {
            request.replyTo().tell(StatusReply.error(new AdminException(AdminException.Code.FAILED_PRECONDITION, e.getMessage())));
        } catch (AdminException e) {
            request.replyTo().tell(StatusReply.error(e));
        } catch (UncheckedIOException e) {
            request.replyTo().tell(StatusReply.error(new AdminException(AdminException.Code.INTERNAL, e.getMessage())));
        }
        return Behaviors.same();
    }

    private Behavior<Command> onRollback(Rollback request) {
        String cls = request.trafficClass();
        if (!registry.classes().contains(cls)) {
            request.replyTo().tell(StatusReply.error(new AdminException(AdminException.Code.NOT_FOUND,
                    "no drafts of traffic class '" + cls + "'; classes: " + registry.classes())));
            return Behaviors.same();
        }
        if (registry.live(cls).isEmpty() || rollbackTarget(cls) < 0) {
            request.replyTo().tell(StatusReply.error(new AdminException(AdminException.Code.FAILED_PRECONDITION,
                    "traffic class '" + cls + "' has no earlier version to go back to (a live one and a retired one with its checkpoint are needed)")));
            return Behaviors.same();
        }
        long from = registry.live(cls).get().version();
        Optional<DraftModel> now = registry.rollback(cls, "by an operator");
        metrics.rollback(cls, "operator");
        DraftModel d = now.orElseThrow();
        context.getLog().info("draft {} rolled back from v{} to v{} by an operator", cls, from, d.version());
        request.replyTo().tell(StatusReply.success(entry(cls, registry.entry(cls, d.version()).orElseThrow())));
        return Behaviors.same();
    }

    private Behavior<Command> onGetLive(GetLive request) {
        Map<String, Long> out = new TreeMap<>();
        for (String cls : registry.classes()) registry.live(cls).ifPresent(d -> out.put(cls, d.version()));
        request.replyTo().tell(Map.copyOf(out));
        return Behaviors.same();
    }

    /** Proposer names of draft versions, as {@code SwappableDraft} names its proposers. */
    static final class DraftModelName {
        private DraftModelName() {}

        static String of(String cls, long version) {
            return dev.tandem.engine.spec.DraftModelProposer.NAME + ":" + cls + "@" + version;
        }
    }
}
