package dev.tandem.cluster.drafts;

import com.typesafe.config.Config;
import dev.tandem.engine.model.TandemHome;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Typed view of {@code tandem.drafts} (defaults in this module's {@code reference.conf}): online distillation
 * in the cluster (recorder and trainer on workers, draft registry and replication on every node).
 *
 * @param enabled          record, train and replicate at all
 * @param train            train on worker nodes
 * @param dir              the registry directory of coordinator nodes ("" = derived, see {@link #registryDir})
 * @param workerDir        the registry directory of worker-only nodes ("" = derived)
 * @param chunkBytes       bytes of one checkpoint chunk on the wire
 * @param fetchWindow      chunks requested at a time by a receiver
 * @param slimTransfers    a receiver that holds the offered version's embedding fetches the checkpoint without it
 * @param transferTimeout  a transfer without progress for this long is dropped
 * @param servingFetchPause    while this node serves, a transfer waits this long before its next fetches
 * @param servingFetchDeferral at most this long in all per transfer (zero: transfers never wait)
 * @param resyncInterval   how often every node offers its live versions to every other
 * @param metricsInterval  how often the trainer's counters are copied to the metrics
 * @param recorderSeed     seed of the recorder's sequence sampling
 * @param liveCheckInterval how often coordinators compare live acceptance with the previous version's
 * @param liveMinProposed  draft tokens both versions need before they are compared
 * @param liveMargin       how much worse (acceptance) the live version must do to be rolled back
 * @param staleSequence    a sequence not verified for this long no longer counts as serving load
 * @param adminTimeout     how long an Admin draft call may take (a promote reads a checkpoint)
 * @param trainerThreads   threads a training step is split over while the node is idle (0 = one per core)
 * @param trainerWarmUpSteps steps of the trainer's warm-up on synthetic samples before it trains (0 = none)
 */
public record DraftsSettings(boolean enabled, boolean train, String dir, String workerDir, int chunkBytes, int fetchWindow, boolean slimTransfers,
                             Duration transferTimeout, Duration servingFetchPause, Duration servingFetchDeferral,
                             Duration resyncInterval, Duration metricsInterval, long recorderSeed, Duration liveCheckInterval,
                             long liveMinProposed, double liveMargin, Duration staleSequence,
                             Duration adminTimeout, int trainerThreads, int trainerWarmUpSteps) {

    public static final String PATH = "tandem.drafts";
    /** Keys that tools set on the nodes they start. */
    public static final String TRAIN_KEY = PATH + ".train";
    public static final String DIR_KEY = PATH + ".dir";
    public static final String DISPATCHER = PATH + ".dispatcher";
    private static final String MAX_MESSAGE_BYTES = "tandem.serialization.max-message-bytes";
    /** Room left in a message for the chunk's envelope (class name, version, index, actor path). */
    private static final int ENVELOPE_BYTES = 4096;

    public DraftsSettings {
        if (chunkBytes < 1) throw new IllegalArgumentException(PATH + ".chunk-bytes must be positive, got " + chunkBytes);
        if (fetchWindow < 1) throw new IllegalArgumentException(PATH + ".fetch-window must be positive, got " + fetchWindow);
        if (trainerThreads < 0) throw new IllegalArgumentException(PATH + ".trainer-threads must be >= 0, got " + trainerThreads);
        if (trainerWarmUpSteps < 0) throw new IllegalArgumentException(PATH + ".trainer-warm-up-steps must be >= 0, got " + trainerWarmUpSteps);
        if (liveMinProposed < 1) throw new IllegalArgumentException(PATH + ".live-check.min-proposed must be positive, got " + liveMinProposed);
        if (!(liveMargin >= 0)) throw new IllegalArgumentException(PATH + ".live-check.margin must be >= 0, got " + liveMargin);
        for (Duration d : new Duration[] {transferTimeout, resyncInterval, metricsInterval, liveCheckInterval, staleSequence, adminTimeout,
                servingFetchPause}) {
            if (d.isNegative() || d.isZero()) throw new IllegalArgumentException(PATH + " intervals and timeouts must be positive, got " + d);
        }
        if (servingFetchDeferral.isNegative() || servingFetchDeferral.compareTo(transferTimeout) >= 0) {
            throw new IllegalArgumentException(PATH + ".serving-fetch.max-deferral must be >= 0 and below transfer-timeout ("
                    + transferTimeout + "), got " + servingFetchDeferral);
        }
    }

    public static DraftsSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        long chunk = c.getBytes("chunk-bytes");
        if (root.hasPath(MAX_MESSAGE_BYTES) && chunk > root.getBytes(MAX_MESSAGE_BYTES) - ENVELOPE_BYTES) {
            throw new IllegalArgumentException(PATH + ".chunk-bytes (" + chunk + ") must stay " + ENVELOPE_BYTES + " bytes below "
                    + MAX_MESSAGE_BYTES + " (" + root.getBytes(MAX_MESSAGE_BYTES) + ")");
        }
        return new DraftsSettings(c.getBoolean("enabled"), c.getBoolean("train"), c.getString("dir"), c.getString("worker-dir"), (int) chunk,
                c.getInt("fetch-window"), c.getBoolean("slim-transfers"), c.getDuration("transfer-timeout"), c.getDuration("serving-fetch.pause"),
                c.getDuration("serving-fetch.max-deferral"), c.getDuration("resync-interval"),
                c.getDuration("metrics-interval"), c.getLong("recorder-seed"), c.getDuration("live-check.interval"),
                c.getLong("live-check.min-proposed"), c.getDouble("live-check.margin"), c.getDuration("stale-sequence"),
                c.getDuration("admin-timeout"), c.getInt("trainer-threads"), c.getInt("trainer-warm-up-steps"));
    }

    /**
     * The registry directory of a node: for a node with the coordinator role {@code dir}, else
     * {@code $TANDEM_HOME/drafts}; for a worker-only node {@code worker-dir}, else null (the caller uses a temporary
     * directory: a worker's registry only mirrors the live drafts and holds its candidates, and is re-filled from
     * the other nodes when it starts).
     */
    public Path registryDir(boolean coordinator) {
        if (coordinator) return dir.isBlank() ? TandemHome.root().resolve("drafts") : Path.of(dir);
        return workerDir.isBlank() ? null : Path.of(workerDir);
    }
}
