package dev.tandem.coordinator.grpc;

import akka.actor.typed.ActorSystem;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.RawHeader;
import akka.japi.function.Function;
import akka.stream.Materializer;
import akka.stream.javadsl.Sink;
import akka.util.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.Usage;
import dev.tandem.protocol.metrics.Counter;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Sends Generate requests through the gateway's own request handler (in process: every layer a client's call
 * goes through except the socket and HTTP/2 framing) once every model has a pipeline, for
 * {@code tandem.gateway.warm-up.duration}, before the node reports SERVING. Why: the step path (gRPC
 * marshalling, sessions, scheduler, serializers, direct transport, stages) runs once per step, so the JIT
 * compiles it only after thousands of steps; on a fresh 2-core cluster a single stream decoded at 40-190 tok/s in
 * its first 10 s of traffic and reached its warm ~600 only after ~40 s. Requests that arrive meanwhile are
 * served as usual; health says NOT_SERVING until the warm-up ends, so a load balancer (or {@code cluster up})
 * waits for it.
 *
 * <p>Each round: one greedy single stream per proposer in {@code proposers} (one-row steps, and a proposer's draft
 * forwards and verification rows), {@code streams} concurrent greedy streams with different prompts (multi-row
 * steps), and one sampled stream (logits rows). A proposer this node cannot run is skipped after its first refusal.
 * Streams still running at the deadline are cut (cancelled). Requests carry the first client token when tokens are
 * required.
 */
public final class GatewayWarmUp {

    private static final Logger log = LoggerFactory.getLogger(GatewayWarmUp.class);

    private static final String GENERATE_PATH = "/" + Inference.name + "/Generate";
    private static final ContentType GRPC = ContentTypes.parse("application/grpc");
    /** gRPC's length-prefixed message: a compression flag byte and a 4-byte big-endian length. */
    private static final int FRAME_HEADER = 5;
    private static final String STATUS_HEADER = "grpc-status";
    private static final String OK = "0";
    /** The outcome of a stream still running at the deadline. */
    private static final String CUT = "cut at the deadline";
    /** A proposer's refusal ("this node has no draft"), not a failed request: the proposer is skipped. */
    private static final Set<String> SKIPPED_STATUSES = Set.of("9"); // FAILED_PRECONDITION
    private static final Duration READY_POLL = Duration.ofMillis(200);

    public static final String WARMED_UP = "tandem_gateway_warmed_up";
    public static final String REQUESTS = "tandem_gateway_warm_up_requests_total";

    /** What one warm-up did: requests sent and failed, and a single stream's decode speed in the first and last round. */
    public record Summary(int requests, int failed, double firstSingleTokS, double lastSingleTokS, Duration took) {}

    private record Outcome(boolean ok, String status, Optional<Usage> usage, boolean skipped) {
        Outcome(boolean ok, String status, Optional<Usage> usage) {
            this(ok, status, usage, false);
        }
    }

    private final ActorSystem<?> system;
    private final InferenceBackend backend;
    private final GatewaySettings.WarmUp settings;
    private final Optional<String> clientToken;
    private final AtomicBoolean finished = new AtomicBoolean();
    private final Set<String> skippedProposers = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Counter requestsMetric;

    public GatewayWarmUp(ActorSystem<?> system, InferenceBackend backend, GatewaySettings settings) {
        this.system = system;
        this.backend = backend;
        this.settings = settings.warmUp();
        this.clientToken = settings.clientTokens().stream().sorted().findFirst();
        MetricsRegistry metrics = NodeMetrics.of(system);
        this.requestsMetric = metrics.counter(REQUESTS, "Requests of the gateway's warm-up, by outcome (ok, failed, skipped: "
                + "a proposer this node cannot run, cut: still running at the end)", "outcome");
        metrics.gauge(WARMED_UP, "1 once the gateway's warm-up has ended (health reports SERVING only then)")
                .track(() -> finished.get() ? 1 : 0);
        if (!this.settings.enabled()) finished.set(true);
    }

    /** True once the warm-up has ended (at once when it is off). */
    public boolean finished() {
        return finished.get();
    }

    /**
     * Waits until every model has a pipeline, then warms up through {@code handler} (the gateway's whole request
     * handler). Completes with what it did; never fails (a failed request is counted, and the warm-up ends on time).
     */
    public CompletionStage<Summary> run(Function<HttpRequest, CompletionStage<HttpResponse>> handler) {
        if (!settings.enabled()) return CompletableFuture.completedFuture(new Summary(0, 0, Double.NaN, Double.NaN, Duration.ZERO));
        return whenServing().thenCompose(ignored -> {
            log.info("warming up the serving path for {} s before reporting SERVING (tandem.gateway.warm-up)",
                    settings.duration().toMillis() / 1000.0);
            long start = System.nanoTime();
            Rounds rounds = new Rounds(handler, start + settings.duration().toNanos());
            return rounds.loop().handle((summary, failure) -> {
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                Summary s = new Summary(rounds.requests.get(), rounds.failed.get(), rounds.firstSingle, rounds.lastSingle, took);
                finished.set(true);
                if (failure != null) {
                    log.warn("serving warm-up stopped after {} s: {}", took.toMillis() / 1000.0, failure.toString());
                } else if (s.requests() > 0 && s.failed() == s.requests()) {
                    log.warn("serving warm-up: all {} requests failed (last status {}); reporting SERVING anyway",
                            s.requests(), rounds.lastFailure);
                } else {
                    log.info("serving path warmed up in {} s: {} requests ({} failed); single stream {} -> {} tok/s",
                            took.toMillis() / 1000.0, s.requests(), s.failed(), rate(s.firstSingleTokS()), rate(s.lastSingleTokS()));
                }
                return s;
            });
        });
    }

    /** Completes once every model has a pipeline (polled: the backend has no event for it). */
    private CompletionStage<Void> whenServing() {
        CompletableFuture<Void> ready = new CompletableFuture<>();
        poll(ready);
        return ready;
    }

    private void poll(CompletableFuture<Void> ready) {
        if (GatewayHealth.modelsReady(backend)) {
            ready.complete(null);
        } else if (!system.whenTerminated().isCompleted()) {
            system.scheduler().scheduleOnce(READY_POLL, () -> poll(ready), system.executionContext());
        }
    }

    /** One warm-up: rounds until the deadline, and what they did. */
    private final class Rounds {
        private final Function<HttpRequest, CompletionStage<HttpResponse>> handler;
        private final long deadline;
        // Streams complete on other threads: counters are atomic, the rest is written by one sequential chain.
        private final AtomicInteger requests = new AtomicInteger();
        private final AtomicInteger failed = new AtomicInteger();
        private volatile String lastFailure = "";
        private volatile double firstSingle = Double.NaN;
        private volatile double lastSingle = Double.NaN;
        private int prompt;

        Rounds(Function<HttpRequest, CompletionStage<HttpResponse>> handler, long deadline) {
            this.handler = handler;
            this.deadline = deadline;
        }

        CompletionStage<Void> loop() {
            if (System.nanoTime() >= deadline) return CompletableFuture.completedFuture(null);
            int okBefore = requests.get() - failed.get();
            CompletionStage<Void> round = CompletableFuture.completedFuture(null);
            for (ModelDescriptor model : backend.models()) {
                round = round.thenCompose(x -> singles(model.name(), 0))
                        .thenCompose(x -> batch(model.name()))
                        .thenCompose(x -> sampled(model.name()));
            }
            // A round in which every request failed (a pipeline lost meanwhile, say) would fail as fast again: the next
            // one waits a poll interval, and for the models to be ready.
            return round.thenCompose(x -> requests.get() - failed.get() > okBefore ? loop()
                    : pause().thenCompose(y -> whenServing()).thenCompose(y -> loop()));
        }

        private CompletionStage<Void> pause() {
            CompletableFuture<Void> paused = new CompletableFuture<>();
            system.scheduler().scheduleOnce(READY_POLL, () -> paused.complete(null), system.executionContext());
            return paused;
        }

        private CompletionStage<Void> batch(String model) {
            if (System.nanoTime() >= deadline) return CompletableFuture.completedFuture(null);
            List<CompletableFuture<Outcome>> streams = new ArrayList<>();
            for (int i = 0; i < settings.streams(); i++) {
                streams.add(send(request(model, "", 0), false).toCompletableFuture());
            }
            return CompletableFuture.allOf(streams.toArray(CompletableFuture[]::new));
        }

        private CompletionStage<Void> singles(String model, int index) {
            if (index >= settings.proposers().size() || System.nanoTime() >= deadline) return CompletableFuture.completedFuture(null);
            String proposer = settings.proposers().get(index);
            if (skippedProposers.contains(proposer)) return singles(model, index + 1);
            return send(request(model, proposer, 0), true).thenCompose(outcome -> {
                if (outcome.skipped() && skippedProposers.add(proposer)) {
                    log.info("serving warm-up: proposer {} not available here (status {}); skipped", proposer, outcome.status());
                }
                if (index == 0 && outcome.ok()) outcome.usage().ifPresent(this::recordSingle);
                return singles(model, index + 1);
            });
        }

        private CompletionStage<Void> sampled(String model) {
            if (System.nanoTime() >= deadline || settings.sampledTemperature() <= 0) return CompletableFuture.completedFuture(null);
            return send(request(model, "", settings.sampledTemperature()), false).thenApply(o -> null);
        }

        private void recordSingle(Usage usage) {
            double decodeMs = usage.getTotalMs() - usage.getTimeToFirstTokenMs();
            if (usage.getCompletionTokens() < 2 || decodeMs <= 0) return;
            double tokS = (usage.getCompletionTokens() - 1) * 1000.0 / decodeMs;
            if (Double.isNaN(firstSingle)) firstSingle = tokS;
            lastSingle = tokS;
        }

        private GenerateRequest request(String model, String proposer, float temperature) {
            String text = settings.prompts().get(prompt++ % settings.prompts().size());
            // Never recorded for the draft trainer: a few prompts over and over would teach the drafts these stories.
            GenerateRequest.Builder b = GenerateRequest.newBuilder().setModel(model).setPrompt(text)
                    .setMaxTokens(settings.maxTokens()).setSpeculate(proposer).setTrafficClass(DraftModel.UNRECORDED_CLASS);
            if (temperature > 0) b.setTemperature(temperature).setSeed(prompt);
            return b.build();
        }

        /**
         * One Generate call through the handler, drained; its grpc-status from the trailer (or the headers). With
         * {@code namesProposer}, a refusal of the proposer (this node has no draft, say) is not a failure.
         */
        private CompletionStage<Outcome> send(GenerateRequest request, boolean namesProposer) {
            requests.incrementAndGet();
            CompletionStage<Outcome> outcome;
            try {
                outcome = handler.apply(httpRequest(request)).thenCompose(this::drain);
            } catch (Exception e) {
                outcome = CompletableFuture.failedFuture(e);
            }
            return outcome.exceptionally(e -> new Outcome(false, "exception: " + e, Optional.empty()))
                    .thenApply(o -> namesProposer && !o.ok() && SKIPPED_STATUSES.contains(o.status())
                            ? new Outcome(false, o.status(), o.usage(), true) : o)
                    .thenApply(o -> {
                        boolean cut = o.status().equals(CUT);
                        requestsMetric.labels(o.ok() ? "ok" : o.skipped() ? "skipped" : cut ? "cut" : "failed").inc(1);
                        if (!o.ok() && !o.skipped() && !cut) {
                            failed.incrementAndGet();
                            lastFailure = o.status();
                        }
                        return o;
                    });
        }

        private CompletionStage<Outcome> drain(HttpResponse response) {
            Optional<String> headerStatus = header(response.getHeaders(), STATUS_HEADER);
            HttpEntity entity = response.entity();
            if (!(entity instanceof HttpEntity.Chunked chunked)) {
                return entity.discardBytes(Materializer.matFromSystem(system)).completionStage()
                        .thenApply(done -> new Outcome(headerStatus.map(OK::equals).orElse(false),
                                headerStatus.orElse("HTTP " + response.status().intValue()), Optional.empty()));
            }
            // At the deadline a stream still running is cut (cancelled, as a client that goes away: its KV is freed),
            // so that the warm-up ends on time however slow a cold cluster's first round is.
            Duration left = Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
            return chunked.getChunks().takeWithin(left).runWith(Sink.fold(new Drained(ByteString.emptyByteString(), headerStatus), (d, part) ->
                    part.isLastChunk() ? new Drained(d.data(), header(part.getTrailerHeaders(), STATUS_HEADER).or(d::status))
                            : new Drained(d.data().concat(part.data()), d.status())), system)
                    .thenApply(d -> d.status().isEmpty() && System.nanoTime() >= deadline
                            ? new Outcome(false, CUT, Optional.empty())
                            : new Outcome(d.status().map(OK::equals).orElse(false), d.status().orElse("none"), lastUsage(d.data())));
        }

        private HttpRequest httpRequest(GenerateRequest request) {
            byte[] message = request.toByteArray();
            ByteBuffer frame = ByteBuffer.allocate(FRAME_HEADER + message.length);
            frame.put((byte) 0).putInt(message.length).put(message).flip();
            HttpRequest r = HttpRequest.POST(GENERATE_PATH)
                    .withEntity(HttpEntities.create(GRPC, ByteString.fromByteBuffer(frame)))
                    .addHeader(RawHeader.create("te", "trailers"));
            return clientToken.map(t -> r.addHeader(RawHeader.create("authorization", "Bearer " + t))).orElse(r);
        }
    }

    private record Drained(ByteString data, Optional<String> status) {}

    /** The usage of the last message of a Generate response body (its final chunk carries it). */
    private static Optional<Usage> lastUsage(ByteString body) {
        ByteBuffer b = body.asByteBuffer();
        Optional<Usage> usage = Optional.empty();
        while (b.remaining() >= FRAME_HEADER) {
            b.get(); // compression flag: the gateway does not compress
            int length = b.getInt();
            if (length < 0 || length > b.remaining()) break;
            byte[] message = new byte[length];
            b.get(message);
            try {
                GenerateChunk chunk = GenerateChunk.parseFrom(message);
                if (chunk.hasUsage()) usage = Optional.of(chunk.getUsage());
            } catch (InvalidProtocolBufferException e) {
                break;
            }
        }
        return usage;
    }

    private static String rate(double tokS) {
        return Double.isNaN(tokS) ? "n/a" : Long.toString(Math.round(tokS));
    }

    private static Optional<String> header(Iterable<HttpHeader> headers, String name) {
        for (HttpHeader h : headers) {
            if (h.is(name)) return Optional.of(h.value());
        }
        return Optional.empty();
    }
}
