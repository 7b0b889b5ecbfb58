package dev.tandem.coordinator.grpc;

import akka.NotUsed;
import akka.stream.OverflowStrategy;
import akka.stream.javadsl.Source;
import akka.stream.javadsl.SourceQueueWithComplete;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationRejected;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.ModelConfig;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test backend over the single-process engine: one sequence at a time on one thread. It lets the
 * gateway be tested end to end with real model output, and counts cancellations that reached it.
 */
final class LocalEngineBackend implements InferenceBackend, AutoCloseable {

    static final String MODEL = "stories15M";

    private final LocalGenerator generator;
    private final ExecutorService thread = Executors.newSingleThreadExecutor();
    final AtomicInteger cancelled = new AtomicInteger();
    /** Every request that reached the backend, in order. */
    final List<GenerationSpec> requests = new java.util.concurrent.CopyOnWriteArrayList<>();
    volatile boolean ready = true;
    /** Every request fails UNAVAILABLE (as when a pipeline was lost). */
    volatile boolean unavailable;
    /** Every stream emits nothing and never ends by itself (as on a pipeline too slow for the caller). */
    volatile boolean stalled;

    LocalEngineBackend(LocalGenerator generator) {
        this.generator = generator;
    }

    /** Calls of {@link #models} (readiness checks). */
    final AtomicInteger modelQueries = new AtomicInteger();

    @Override
    public List<ModelDescriptor> models() {
        modelQueries.incrementAndGet();
        ModelConfig c = generator.config();
        return List.of(new ModelDescriptor(MODEL, c.nLayers(), c.dim(), c.vocabSize(), c.seqLen(), "F32", ready));
    }

    @Override
    public Optional<ModelDescriptor> model(String name) {
        return models().stream().filter(m -> m.name().equals(name) || name.equals("default")).findFirst();
    }

    @Override
    public int[] tokenize(String model, String text, boolean addBos) {
        return generator.tokenizer().encode(text, addBos, false);
    }

    @Override
    public List<String> pieces(String model, int[] tokens) {
        List<String> out = new ArrayList<>();
        for (int t : tokens) out.add(new String(generator.tokenizer().decodeBytes(-1, t), StandardCharsets.UTF_8));
        return out;
    }

    @Override
    public Source<GenerationEvent, NotUsed> generate(GenerationSpec spec) {
        requests.add(spec);
        if (unavailable) return Source.failed(new GenerationRejected(GenerationRejected.Code.UNAVAILABLE, "no pipeline"));
        if (stalled) {
            return Source.<GenerationEvent>never().watchTermination((mat, done) -> {
                done.whenComplete((d, failure) -> cancelled.incrementAndGet()); // it can only end by cancellation
                return mat;
            });
        }
        if (spec.speculate().equals("draft")) {
            // As a coordinator without a draft model refuses it.
            return Source.failed(new GenerationRejected(GenerationRejected.Code.FAILED_PRECONDITION, "no draft model here"));
        }
        AtomicBoolean stop = new AtomicBoolean();
        return Source.<GenerationEvent>queue(1024, OverflowStrategy.fail())
                .mapMaterializedValue(queue -> {
                    thread.execute(() -> run(spec, queue, stop));
                    return NotUsed.getInstance();
                })
                .watchTermination((mat, done) -> {
                    done.whenComplete((d, failure) -> stop.set(true));
                    return mat;
                });
    }

    private void run(GenerationSpec spec, SourceQueueWithComplete<GenerationEvent> queue, AtomicBoolean stop) {
        long start = System.nanoTime();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        try {
            GenerationResult r = generator.generate(new GenerationRequest(spec.prompt(), spec.maxNewTokens(), spec.sampling(), spec.stopStrings()),
                    new GenerationListener() {
                        @Override
                        public void onText(byte[] text, int tokenId) {
                            pending.writeBytes(text);
                            int complete = completeUtf8Prefix(pending.toByteArray());
                            byte[] all = pending.toByteArray();
                            pending.reset();
                            pending.write(all, complete, all.length - complete);
                            queue.offer(new GenerationEvent.TextDelta(new String(all, 0, complete, StandardCharsets.UTF_8),
                                    tokenId < 0 ? new int[0] : new int[]{tokenId}));
                        }

                        @Override
                        public boolean cancelled() { return stop.get(); }
                    });
            if (stop.get()) {
                cancelled.incrementAndGet();
                return;
            }
            double ttft = r.prefillNanos() / 1e6;
            queue.offer(new GenerationEvent.Finished(r.finishReason(), new GenerationEvent.Usage(r.promptTokens().length,
                    r.tokens().length, ttft, (System.nanoTime() - start) / 1e6, "none", 0, 0, r.tokens().length, 0)));
            queue.complete();
        } catch (RuntimeException e) {
            queue.fail(e);
        }
    }

    /** Length of the longest prefix of {@code bytes} that ends on a whole UTF-8 character. */
    static int completeUtf8Prefix(byte[] bytes) {
        int i = bytes.length;
        int back = 0;
        while (i > 0 && back < 4 && (bytes[i - 1] & 0xC0) == 0x80) { i--; back++; }
        if (i == 0) return bytes.length;
        int lead = bytes[i - 1] & 0xFF;
        int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        return need == back + 1 ? bytes.length : i - 1;
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
