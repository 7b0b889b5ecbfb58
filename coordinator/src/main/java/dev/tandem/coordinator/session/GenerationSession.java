package dev.tandem.coordinator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.stream.BoundedSourceQueue;
import akka.stream.QueueOfferResult;
import dev.tandem.coordinator.CoordinatorMetrics;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.scheduler.Scheduler;
import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.generate.StopStringFilter;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * One request: submits the tokenized prompt to the model's scheduler, turns the tokens it gets back into
 * text (incrementally, whole UTF-8 characters only, stop strings held back until they cannot match) and
 * feeds the client's stream; ends it with {@link GenerationEvent.Finished} and its usage. When the stream
 * is cancelled, or a stop string appears, the sequence is cancelled (its KV caches are released everywhere).
 */
public final class GenerationSession extends AbstractBehavior<GenerationSession.Command> {

    public sealed interface Command {}

    /** The client's stream ended (completed by us, failed, or cancelled downstream). */
    public enum StreamEnded implements Command { INSTANCE }

    private record FromScheduler(Scheduler.SequenceEvent event) implements Command {}

    /**
     * @param promptTokens prompt with BOS, already checked against the context
     * @param acceptedAt   System.nanoTime() when the request was accepted (for TTFT and total time)
     */
    public record Request(long seqId, int[] promptTokens, int maxNewTokens, SamplerSettings sampling,
                          List<String> stopStrings, String speculate, String trafficClass, long acceptedAt) {}

    public static Behavior<Command> create(Request request, String model, Tokenizer tokenizer,
                                           ActorRef<Scheduler.Command> scheduler, BoundedSourceQueue<GenerationEvent> out) {
        return Behaviors.setup(context -> new GenerationSession(context, request, model, tokenizer, scheduler, out));
    }

    private final Request request;
    private final Tokenizer tokenizer;
    private final ActorRef<Scheduler.Command> scheduler;
    private final BoundedSourceQueue<GenerationEvent> out;
    private final StopStringFilter stops;
    private final Utf8Accumulator utf8 = new Utf8Accumulator();
    private final List<Integer> pendingTokenIds = new ArrayList<>();
    private int previous;
    private int completionTokens;
    private long firstTokenAt;
    private long lastTokenAt;
    private final String model;
    private final CoordinatorMetrics metrics;
    /** The stream has been completed or failed; only its end is awaited. */
    private boolean done;
    /** Speculation counts as of the last token (a stop string ends the stream before the scheduler's Finished). */
    private Scheduler.Finished lastStats;

    private GenerationSession(ActorContext<Command> context, Request request, String model, Tokenizer tokenizer,
                              ActorRef<Scheduler.Command> scheduler, BoundedSourceQueue<GenerationEvent> out) {
        super(context);
        this.model = model;
        this.metrics = CoordinatorMetrics.of(context.getSystem());
        this.request = request;
        this.tokenizer = tokenizer;
        this.scheduler = scheduler;
        this.out = out;
        this.stops = new StopStringFilter(request.stopStrings());
        this.previous = request.promptTokens()[request.promptTokens().length - 1];
        ActorRef<Scheduler.SequenceEvent> events = context.messageAdapter(Scheduler.SequenceEvent.class, FromScheduler::new);
        scheduler.tell(new Scheduler.Submit(request.seqId(), request.promptTokens(), request.maxNewTokens(),
                request.sampling(), request.speculate(), request.trafficClass(), events));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(FromScheduler.class, message -> done ? this : switch (message.event()) {
                    case Scheduler.Token token -> onToken(token);
                    case Scheduler.Finished finished -> onFinished(finished);
                    case Scheduler.Rejected rejected -> {
                        done = true;
                        metrics.requestEnded(model, rejected.code().name().toLowerCase(java.util.Locale.ROOT),
                                request.promptTokens().length, completionTokens);
                        out.fail(new GenerationRejected(rejected.code(), rejected.message()));
                        yield this;
                    }
                })
                // The session lives until its stream has ended, so that the end never goes to dead letters.
                .onMessage(StreamEnded.class, ended -> {
                    if (!done) { // cancelled by the client
                        scheduler.tell(new Scheduler.Cancel(request.seqId()));
                        metrics.requestEnded(model, "cancelled", request.promptTokens().length, completionTokens);
                    }
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Command> onToken(Scheduler.Token event) {
        int token = event.token();
        lastStats = new Scheduler.Finished(request.seqId(), FinishReason.STOP, event.steps(), event.proposer(),
                event.proposed(), event.accepted(), event.rejected());
        completionTokens++;
        long now = System.nanoTime();
        if (firstTokenAt == 0) {
            firstTokenAt = now;
            metrics.firstToken(model, (now - request.acceptedAt()) / 1e6);
        } else {
            metrics.interToken(model, (now - lastTokenAt) / 1e6);
        }
        lastTokenAt = now;
        if (token == tokenizer.eosId() || token == tokenizer.bosId()) return this; // Finished(EOS) follows
        pendingTokenIds.add(token);
        emit(utf8.accept(stops.accept(tokenizer.decodeBytes(previous, token))));
        previous = token;
        if (stops.stopped()) {
            scheduler.tell(new Scheduler.Cancel(request.seqId()));
            return finish(FinishReason.STOP, lastStats);
        }
        return this;
    }

    private Behavior<Command> onFinished(Scheduler.Finished finished) {
        emit(utf8.accept(stops.flush()) + utf8.flush());
        return finish(finished.reason(), finished);
    }

    private void emit(String text) {
        if (text.isEmpty()) return;
        int[] ids = pendingTokenIds.stream().mapToInt(Integer::intValue).toArray();
        pendingTokenIds.clear();
        offer(new GenerationEvent.TextDelta(text, ids));
    }

    /** @param stats the sequence's speculation counts (the scheduler's final ones, or those of the last token) */
    private Behavior<Command> finish(FinishReason reason, Scheduler.Finished stats) {
        long end = System.nanoTime();
        long first = firstTokenAt == 0 ? end : firstTokenAt;
        offer(new GenerationEvent.Finished(reason, new GenerationEvent.Usage(request.promptTokens().length,
                completionTokens, (first - request.acceptedAt()) / 1e6, (end - request.acceptedAt()) / 1e6,
                stats.proposer(), stats.proposed(), stats.accepted(), stats.steps(), stats.rejected())));
        out.complete();
        done = true;
        metrics.requestEnded(model, reason.name().toLowerCase(java.util.Locale.ROOT), request.promptTokens().length,
                completionTokens);
        return this;
    }

    private void offer(GenerationEvent event) {
        // The queue holds a whole generation's events, so an offer fails only when the stream is gone.
        QueueOfferResult result = out.offer(event);
        if (result != QueueOfferResult.enqueued()) {
            getContext().getLog().debug("session {} could not deliver an event: {}", request.seqId(), result);
        }
    }
}
