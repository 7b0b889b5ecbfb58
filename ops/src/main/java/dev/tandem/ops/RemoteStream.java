package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import dev.tandem.protocol.grpc.FinishReason;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.Usage;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * One Generate call through the gRPC client, with the client-side timing of every chunk: time to the
 * first generated token and the gaps between chunks (inter-token latency) as a caller sees them.
 */
final class RemoteStream {

    /** Receives streamed output as it arrives. */
    interface Listener {
        /** The prompt echoed by the server (only when the request asked for it). */
        default void onPrompt(String prompt) {}

        void onText(String text);

        Listener NONE = text -> {};
    }

    /**
     * A finished stream.
     *
     * @param text             the generated text (without an echoed prompt)
     * @param chunkTokens      tokens per chunk that carried tokens, in order
     * @param chunkNanos       arrival time (System.nanoTime) of each such chunk
     * @param tokenIds         every generated token id, in order
     */
    record Result(String text, int[] chunkTokens, long[] chunkNanos, long startNanos, long endNanos,
                  FinishReason finishReason, Usage usage, int[] tokenIds) {

        int completionTokens() { return usage.getCompletionTokens(); }

        double timeToFirstTokenMs() {
            return chunkNanos.length == 0 ? Double.NaN : (chunkNanos[0] - startNanos) / 1e6;
        }

        /** Tokens after the first per second of the time after the first token. */
        double decodeTokensPerSecond() {
            if (chunkNanos.length < 2) return 0;
            int tokens = 0;
            for (int i = 1; i < chunkTokens.length; i++) tokens += chunkTokens[i];
            return tokens * 1e9 / (chunkNanos[chunkNanos.length - 1] - chunkNanos[0]);
        }

        /** Gaps between consecutive token-carrying chunks, in ms, each divided by the tokens it brought. */
        List<Double> interTokenMs() {
            List<Double> gaps = new ArrayList<>();
            for (int i = 1; i < chunkNanos.length; i++) {
                gaps.add((chunkNanos[i] - chunkNanos[i - 1]) / 1e6 / Math.max(1, chunkTokens[i]));
            }
            return gaps;
        }
    }

    private RemoteStream() {}

    /** The Generate call for an engine-side request: prompt, budget, sampling, stops and the proposer ("" = the server's). */
    static GenerateRequest request(String model, dev.tandem.engine.generate.GenerationRequest r, String speculate) {
        return GenerateRequest.newBuilder()
                .setModel(model)
                .setPrompt(r.prompt())
                .setMaxTokens(r.maxNewTokens())
                .setTemperature(r.sampling().temperature())
                .setTopK(r.sampling().topK())
                .setTopP(r.sampling().topP())
                .setSeed(r.sampling().seed())
                .addAllStop(r.stopStrings())
                .setSpeculate(speculate)
                .build();
    }

    static CompletionStage<Result> run(ActorSystem<?> system, InferenceClient client, GenerateRequest request, Listener listener) {
        long start = System.nanoTime();
        StringBuilder text = new StringBuilder();
        List<Integer> tokens = new ArrayList<>();
        List<Long> times = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        FinishReason[] finish = {FinishReason.FINISH_REASON_UNSPECIFIED};
        Usage[] usage = {Usage.getDefaultInstance()};
        boolean[] echoPending = {request.getEchoPrompt()};
        return client.generate(request)
                .runWith(Sink.foreach((GenerateChunk chunk) -> {
                    long now = System.nanoTime();
                    if (echoPending[0]) {
                        echoPending[0] = false;
                        listener.onPrompt(chunk.getText());
                        return;
                    }
                    if (chunk.getTokenIdsCount() > 0) {
                        tokens.add(chunk.getTokenIdsCount());
                        times.add(now);
                        ids.addAll(chunk.getTokenIdsList());
                    }
                    if (!chunk.getText().isEmpty()) {
                        text.append(chunk.getText());
                        listener.onText(chunk.getText());
                    }
                    if (chunk.getFinishReason() != FinishReason.FINISH_REASON_UNSPECIFIED) {
                        finish[0] = chunk.getFinishReason();
                        usage[0] = chunk.getUsage();
                    }
                }), system)
                .thenApply(done -> new Result(text.toString(), tokens.stream().mapToInt(Integer::intValue).toArray(),
                        times.stream().mapToLong(Long::longValue).toArray(), start, System.nanoTime(), finish[0], usage[0],
                        ids.stream().mapToInt(Integer::intValue).toArray()));
    }
}
