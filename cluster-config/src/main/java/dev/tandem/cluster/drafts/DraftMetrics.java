package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorSystem;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.Gauge;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;

/**
 * The online-distillation series in a node's metrics registry: the drafts (live version per class, live
 * acceptance on coordinators, transfers, rollbacks) and the trainer on workers (steps, loss, samples, candidates).
 * Pushed by the replicator and the trainer actor; the registry's series are thread-safe.
 */
public final class DraftMetrics {

    public static final String LIVE_VERSION = "tandem_draft_live_version";
    public static final String LIVE_ACCEPTANCE = "tandem_draft_live_acceptance";
    public static final String TRANSFERS = "tandem_draft_transfers_total";
    public static final String TRANSFER_BYTES = "tandem_draft_transfer_bytes_total";
    public static final String CHUNKS_SENT = "tandem_draft_chunks_sent_total";
    public static final String FETCH_PAUSES = "tandem_draft_fetch_pauses_total";
    public static final String ROLLBACKS = "tandem_draft_rollbacks_total";
    public static final String TRAINER_STEPS = "tandem_trainer_steps_total";
    public static final String TRAINER_LOSS = "tandem_trainer_loss";
    public static final String TRAINER_BUSY = "tandem_trainer_busy_seconds_total";
    public static final String TRAINER_WARMED_UP = "tandem_trainer_warmed_up";
    public static final String SAMPLES_RECORDED = "tandem_trainer_samples_recorded_total";
    public static final String POSITIONS_DROPPED = "tandem_trainer_positions_dropped_total";
    public static final String REPLAY_BYTES = "tandem_trainer_replay_bytes";
    public static final String DEFERRED_SAMPLES = "tandem_trainer_deferred_samples";
    public static final String CANDIDATES = "tandem_trainer_candidates_total";

    private final Gauge liveVersion;
    private final Gauge liveAcceptance;
    private final Counter transfers;
    private final Counter transferBytes;
    private final Counter chunksSent;
    private final Counter fetchPauses;
    private final Counter rollbacks;

    DraftMetrics(ActorSystem<?> system) {
        MetricsRegistry r = NodeMetrics.of(system);
        liveVersion = r.gauge(LIVE_VERSION, "Version of the live draft of each traffic class on this node", "class");
        liveAcceptance = r.gauge(LIVE_ACCEPTANCE, "Acceptance (accepted / proposed draft tokens) of each class's live draft on "
                + "the live traffic of this coordinator", "class");
        transfers = r.counter(TRANSFERS, "Draft checkpoints received from other nodes, by result (adopted, failed)", "result");
        transferBytes = r.counter(TRANSFER_BYTES, "Bytes of draft checkpoints adopted from other nodes, by form (slim: without the "
                + "embedding, which this node already held; whole)", "form");
        chunksSent = r.counter(CHUNKS_SENT, "Checkpoint chunks sent to other nodes");
        fetchPauses = r.counter(FETCH_PAUSES, "Pauses of incoming draft transfers while this node was serving "
                + "(tandem.drafts.serving-fetch)");
        rollbacks = r.counter(ROLLBACKS, "Live drafts rolled back, by class and reason (live: worse live acceptance at a "
                + "coordinator; held-out: the trainer's evaluation; operator)", "class", "reason");
    }

    void liveVersion(String cls, long version) { liveVersion.set(version, cls); }

    void liveAcceptance(String cls, double acceptance) { liveAcceptance.set(acceptance, cls); }

    void transfer(boolean adopted) { transfers.labels(adopted ? "adopted" : "failed").inc(1); }

    void transferBytes(boolean slim, long bytes) { transferBytes.labels(slim ? "slim" : "whole").inc(bytes); }

    void chunkSent() { chunksSent.labels().inc(1); }

    void fetchPaused() { fetchPauses.labels().inc(1); }

    void rollback(String cls, String reason) { rollbacks.labels(cls, reason).inc(1); }

    /** The trainer's series (worker nodes). */
    static final class Trainer {
        private final Counter steps;
        private final Gauge loss;
        private final Counter busy;
        private final Gauge warmedUp;
        private final Counter recorded;
        private final Counter dropped;
        private final Gauge replayBytes;
        private final Gauge deferred;
        private final Counter candidates;
        private final Counter rollbacks;

        Trainer(ActorSystem<?> system) {
            MetricsRegistry r = NodeMetrics.of(system);
            steps = r.counter(TRAINER_STEPS, "Training steps of the draft trainer (optimizer steps and evaluation steps)");
            loss = r.gauge(TRAINER_LOSS, "Running distillation loss of the candidate draft trained last, by class", "class");
            busy = r.counter(TRAINER_BUSY, "Time the training thread spent in steps");
            warmedUp = r.gauge(TRAINER_WARMED_UP, "1 once the trainer has run its warm-up (its code compiled before it trains)");
            recorded = r.counter(SAMPLES_RECORDED, "Distillation samples (one per recorded sequence) added to the replay buffers");
            dropped = r.counter(POSITIONS_DROPPED, "Verified positions not recorded because the recorder's memory bound was reached");
            replayBytes = r.gauge(REPLAY_BYTES, "Bytes held by the replay buffers, by class", "class");
            deferred = r.gauge(DEFERRED_SAMPLES, "Finished recorded sequences waiting for the trainer to compute their teacher "
                    + "logits (a backlog that grows while serving leaves no idle time)");
            candidates = r.counter(CANDIDATES, "Candidate drafts evaluated on held-out samples, by class and outcome "
                    + "(published, rejected)", "class", "outcome");
            rollbacks = r.counter(ROLLBACKS, "Live drafts rolled back, by class and reason (live: worse live acceptance at a "
                    + "coordinator; held-out: the trainer's evaluation; operator)", "class", "reason");
        }

        void steps(long delta) { if (delta > 0) steps.labels().inc(delta); }

        void warmedUp(boolean done) { warmedUp.set(done ? 1 : 0); }

        void busySeconds(double delta) { if (delta > 0) busy.labels().inc(delta); }

        void loss(String cls, double value) { if (!cls.isEmpty() && !Double.isNaN(value)) loss.set(value, cls); }

        void recorded(long delta) { if (delta > 0) recorded.labels().inc(delta); }

        void dropped(long delta) { if (delta > 0) dropped.labels().inc(delta); }

        void replayBytes(String cls, long bytes) { replayBytes.set(bytes, cls); }

        void deferredSamples(int samples) { deferred.set(samples); }

        void candidate(String cls, boolean published) { candidates.labels(cls, published ? "published" : "rejected").inc(1); }

        void rollback(String cls) { rollbacks.labels(cls, "held-out").inc(1); }
    }
}
