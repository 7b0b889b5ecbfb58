package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import akka.stream.javadsl.Sink;
import com.typesafe.config.ConfigFactory;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.DraftInfo;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.ListDraftsRequest;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftEvaluator;
import dev.tandem.trainer.version.DraftRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Online distillation end to end in an embedded cluster (a coordinator and two worker ActorSystems, each with
 * its own draft directory): the coordinator starts with a training-free draft cut from the target; requests of
 * one family are served with {@code speculate = draft} in rounds, with idle time in between; the worker running
 * the last stage records them, trains while idle and publishes a better draft of the family's class, which
 * reaches the coordinator and serves the next round. Acceptance rises, and every round's greedy text is the
 * same as the first one's (the draft never changes the output).
 */
class OnlineDistillationClusterTest {

    private static final String TOKEN = "osd-test-token";
    private static final String CLASS = TrafficGenerator.ANIMALS;
    private static final int PROMPTS = 4;
    private static final int MAX_TOKENS = 48;
    /** Publications of the class's draft awaited before the last round. */
    private static final int PUBLICATIONS = 2;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(240);

    @TempDir
    static Path tmp;

    private static EmbeddedCluster cluster;
    private static ActorSystem<Void> client;

    @AfterAll
    static void stop() {
        if (client != null) client.terminate();
        if (cluster != null) cluster.close();
    }

    @Test
    void repeatedTrafficRaisesAcceptanceWhileEveryTextStaysTheSame() throws Exception {
        Path drafts = tmp.resolve("coordinator-drafts");
        try (OpenedModel target = OpenedModel.open(OpenedModel.DEFAULT_SPEC, null, ProgressListener.NONE)) {
            // A draft any CI machine can make: the target's first layer, final norm and the head rows of the first 4096 ids.
            DraftModel cut = DraftModel.fromTarget(target.model().weights(), 1,
                    new ReducedVocabulary(IntStream.range(0, 4096).toArray(), target.config().vocabSize()));
            DraftRegistry.open(drafts).submit(DraftModel.GENERAL_CLASS, cut, new DraftEvaluator.Comparison(
                    new AcceptanceMetrics(0, 0, 0, 1), AcceptanceMetrics.NONE, true), "cut from the target");
        }
        cluster = EmbeddedCluster.start(2, 0, Map.of(
                "tandem.coordinator.min-workers", 2,
                "tandem.drafts.dir", drafts.toString(),
                "tandem.admin.token", TOKEN,
                // always 4 drafts per step, so that every round's acceptance is measured on as many draft tokens
                "tandem.coordinator.speculation.adaptive", false,
                "tandem.coordinator.speculation.max-drafts", 4,
                // prompts prefilled in chunks: the recorder meets the sequence at its first chunk, samples at the last
                "tandem.coordinator.prefill-chunk-rows", 4,
                // small and quick evaluations, a higher learning rate: the test has a few requests, not hours of traffic
                "tandem.trainer.evaluation.every-steps", 6,
                "tandem.trainer.evaluation.held-out-samples", 4,
                "tandem.trainer.replay.held-out-every", 3,
                "tandem.trainer.distiller.online-learning-rate", 1e-3), START_TIMEOUT);
        client = ActorSystem.create(Behaviors.empty(), "osd-test-client", ConfigFactory.parseString("akka.actor.provider = local")
                .withFallback(ConfigFactory.load()));
        GrpcClientSettings settings = GrpcClientSettings.connectToServiceAt(cluster.grpcAddress().getHostString(),
                cluster.grpcAddress().getPort(), client).withTls(false);
        InferenceClient inference = InferenceClient.create(settings, client);
        AdminClient admin = AdminClient.create(settings, client);
        List<String> prompts = TrafficGenerator.builtIn(3).take(CLASS, PROMPTS).stream().map(TrafficGenerator.Request::prompt).toList();
        awaitServing(inference, prompts.getFirst());

        List<double[]> rounds = new ArrayList<>();
        List<String> firstTexts = null;
        long live = 0;
        for (int round = 0; ; round++) {
            long proposed = 0;
            long accepted = 0;
            long tokens = 0;
            long steps = 0;
            List<String> texts = new ArrayList<>();
            String proposer = "";
            for (String prompt : prompts) {
                List<GenerateChunk> chunks = inference.generate(request(prompt)).runWith(Sink.seq(), client)
                        .toCompletableFuture().get(60, TimeUnit.SECONDS);
                StringBuilder text = new StringBuilder();
                for (GenerateChunk c : chunks) text.append(c.getText());
                var usage = chunks.getLast().getUsage();
                proposed += usage.getProposed();
                accepted += usage.getAccepted();
                tokens += usage.getCompletionTokens();
                steps += usage.getSteps();
                proposer = usage.getProposer();
                texts.add(text.toString());
            }
            if (firstTexts == null) firstTexts = texts;
            else assertEquals(firstTexts, texts, "round " + round + ": the draft changed the output");
            double acceptance = proposed == 0 ? 0 : (double) accepted / proposed;
            rounds.add(new double[] {proposer.contains("@") ? Long.parseLong(proposer.substring(proposer.indexOf('@') + 1)) : 0, acceptance});
            System.out.printf(Locale.ROOT, "round %d: proposer %s, acceptance %.3f (%d of %d draft tokens), %.2f tokens per step%n",
                    round, proposer, acceptance, accepted, proposed, steps == 0 ? 0.0 : (double) tokens / steps);
            if (round == 0) assertEquals("draft:general@1", proposer, "the cut draft serves first");
            if (round == PUBLICATIONS) {
                // the trainer may have published again while the round ran (between two requests)
                assertTrue(proposer.startsWith("draft:" + CLASS + "@") && Long.parseLong(proposer.substring(proposer.indexOf('@') + 1)) >= live,
                        "the class's own published draft serves: " + proposer);
                break;
            }
            live = awaitNewVersion(admin, live);
        }
        double before = rounds.getFirst()[1];
        double after = rounds.getLast()[1];
        System.out.printf(Locale.ROOT, "acceptance of %s traffic: %.3f with the cut draft, %.3f with %s v%d%n", CLASS, before, after,
                CLASS, (long) rounds.getLast()[0]);
        assertTrue(after > before + 0.1, "acceptance rose from " + before + " to " + after);
        String workerMetrics = cluster.workers().stream().map(w -> NodeMetrics.of(w.system()).scrape()).reduce("", String::concat);
        assertTrue(workerMetrics.contains("tandem_trainer_candidates_total{class=\"" + CLASS + "\",outcome=\"published\"}"), workerMetrics);
        // Every worker's trainer ran its warm-up (on its own registry: the versions above are the real trainer's).
        for (var w : cluster.workers()) {
            assertEquals(1.0, NodeMetrics.of(w.system()).gauge(DraftMetrics.TRAINER_WARMED_UP, "").value(), "trainer warm-up on " + w);
        }
        // The trainer reports the backlog of recorded sequences waiting for their teacher logits.
        assertTrue(workerMetrics.contains(DraftMetrics.DEFERRED_SAMPLES + " "), workerMetrics);
        inference.close();
        admin.close();
    }

    private static GenerateRequest request(String prompt) {
        return GenerateRequest.newBuilder().setModel("default").setPrompt(prompt).setMaxTokens(MAX_TOKENS).setTemperature(0)
                .setSpeculate("draft").setTrafficClass(CLASS).build();
    }

    private static void awaitServing(InferenceClient inference, String prompt) throws Exception {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            try {
                inference.generate(request(prompt).toBuilder().setMaxTokens(1).setSpeculate("none").build()).runWith(Sink.seq(), client)
                        .toCompletableFuture().get(30, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof StatusRuntimeException s && s.getStatus().getCode() == Status.Code.UNAVAILABLE)
                        || System.nanoTime() > deadline) throw e;
                Thread.sleep(200);
            }
        }
    }

    /** Waits (idle: the trainer runs) until the coordinator serves a newer version of the class's draft. */
    private static long awaitNewVersion(AdminClient admin, long current) throws Exception {
        long deadline = System.nanoTime() + PUBLISH_TIMEOUT.toNanos();
        List<DraftInfo> drafts = List.of();
        while (System.nanoTime() < deadline) {
            drafts = admin.listDrafts().addHeader("authorization", "Bearer " + TOKEN).invoke(ListDraftsRequest.getDefaultInstance())
                    .toCompletableFuture().get(30, TimeUnit.SECONDS).getDraftsList();
            for (DraftInfo d : drafts) {
                if (d.getTrafficClass().equals(CLASS) && d.getState().equals("live") && d.getVersion() > current) return d.getVersion();
            }
            Thread.sleep(250);
        }
        throw new AssertionError("no new " + CLASS + " draft was published within " + PUBLISH_TIMEOUT + ": " + drafts);
    }
}
