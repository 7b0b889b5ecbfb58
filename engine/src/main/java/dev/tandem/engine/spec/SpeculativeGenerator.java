package dev.tandem.engine.spec;

import dev.tandem.engine.generate.FinishReason;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.StopStringFilter;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text generation with speculative decoding in this process: the API of
 * {@link dev.tandem.engine.generate.LocalGenerator}, and for greedy decoding exactly its output (tokens,
 * text, finish reason), only in fewer target forwards. Stop rules are applied token by token over each
 * step's accepted tokens in the same order (EOS or BOS, stop strings held back by a
 * {@link StopStringFilter}, max new tokens, the context), so tokens after a stop are discarded.
 * {@link #generateAll} runs several requests batched into one target forward per step.
 * Not thread-safe.
 */
public final class SpeculativeGenerator implements AutoCloseable {

    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final SpeculativeDecoder decoder;

    public SpeculativeGenerator(ModelWeights weights, Tokenizer tokenizer, ParallelRunner runner, ProposerFactory proposers,
                                SpeculationOptions options) {
        this(weights, tokenizer, runner, proposers, new SpeculationCosts(), options);
    }

    public SpeculativeGenerator(ModelWeights weights, Tokenizer tokenizer, ParallelRunner runner, ProposerFactory proposers,
                                SpeculationCosts costs, SpeculationOptions options) {
        this.config = weights.config();
        if (tokenizer.vocabSize() != config.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize()
                    + " tokens but the model's vocabulary has " + config.vocabSize());
        }
        this.tokenizer = tokenizer;
        this.decoder = new SpeculativeDecoder(weights, runner, proposers, costs, options);
    }

    public SpeculativeDecoder decoder() { return decoder; }

    public SpeculativeResult generate(GenerationRequest request, GenerationListener listener) {
        return generateAll(List.of(request), List.of(listener)).getFirst();
    }

    /** Generates every request, all sequences batched in one target forward per step; results in request order. */
    public List<SpeculativeResult> generateAll(List<GenerationRequest> requests, List<GenerationListener> listeners) {
        if (requests.size() != listeners.size()) throw new IllegalArgumentException("one listener per request");
        List<TextStream> streams = new ArrayList<>();
        try {
            for (int i = 0; i < requests.size(); i++) {
                GenerationRequest r = requests.get(i);
                int[] prompt = encodePrompt(r.prompt());
                DecodingSequence s = decoder.start(i, prompt, r.sampling(), r.maxNewTokens());
                streams.add(new TextStream(s, r, listeners.get(i)));
            }
            for (TextStream t : streams) t.listener.onPrompt(decode(t.sequence.history().toArray()));
            List<DecodingSequence> active = new ArrayList<>();
            List<TextStream> activeStreams = new ArrayList<>();
            while (true) {
                active.clear();
                activeStreams.clear();
                for (TextStream t : streams) {
                    if (t.done) continue;
                    if (t.listener.cancelled()) {
                        t.finish(FinishReason.CANCELLED);
                        continue;
                    }
                    active.add(t.sequence);
                    activeStreams.add(t);
                }
                if (active.isEmpty()) break;
                decoder.step(active);
                for (TextStream t : activeStreams) t.emitStep();
            }
        } finally {
            for (TextStream t : streams) decoder.release(t.sequence);
        }
        List<SpeculativeResult> results = new ArrayList<>();
        for (TextStream t : streams) results.add(t.result());
        return results;
    }

    /** The prompt's tokens with BOS; throws when they do not leave room for one new token. */
    public int[] encodePrompt(String prompt) {
        if (prompt.isEmpty()) throw new IllegalArgumentException("the prompt is empty");
        int[] tokens = tokenizer.encode(prompt, true, false);
        if (tokens.length >= config.seqLen()) {
            throw new IllegalArgumentException("the prompt is " + tokens.length + " tokens, which leaves no room in the model's context of "
                    + config.seqLen() + " tokens");
        }
        return tokens;
    }

    private byte[] decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int previous = tokenizer.bosId();
        for (int t : tokens) {
            out.writeBytes(tokenizer.decodeBytes(previous, t));
            previous = t;
        }
        return out.toByteArray();
    }

    @Override
    public void close() {
        decoder.close();
    }

    /** The text side of one sequence: the same emission rules as LocalGenerator, token by token. */
    private final class TextStream {
        final DecodingSequence sequence;
        final GenerationListener listener;
        final StopStringFilter stops;
        final ByteArrayOutputStream text = new ByteArrayOutputStream();
        final int[] promptTokens;
        final int[] generated;
        int count;
        int previous;
        boolean done;
        FinishReason reason = FinishReason.LENGTH;
        final long start = System.nanoTime();
        long firstToken = start;
        long end;

        TextStream(DecodingSequence sequence, GenerationRequest request, GenerationListener listener) {
            this.sequence = sequence;
            this.listener = listener;
            this.stops = new StopStringFilter(request.stopStrings());
            this.promptTokens = sequence.history().toArray();
            this.generated = new int[sequence.budget()];
            this.previous = promptTokens[promptTokens.length - 1];
        }

        void emitStep() {
            for (int i = 0; i < sequence.stepCount() && !done; i++) {
                int next = sequence.stepToken(i);
                if (count == 0) firstToken = System.nanoTime();
                generated[count++] = next;
                if (next == tokenizer.eosId() || next == tokenizer.bosId()) {
                    finish(FinishReason.EOS);
                    return;
                }
                byte[] piece = stops.accept(tokenizer.decodeBytes(previous, next));
                if (piece.length > 0) {
                    text.writeBytes(piece);
                    listener.onText(piece, next);
                }
                if (stops.stopped()) {
                    finish(FinishReason.STOP);
                    return;
                }
                if (count == sequence.budget()) {
                    finish(FinishReason.LENGTH);
                    return;
                }
                previous = next;
            }
        }

        void finish(FinishReason why) {
            reason = why;
            done = true;
            if (!stops.stopped()) {
                byte[] rest = stops.flush();
                if (rest.length > 0) {
                    text.writeBytes(rest);
                    listener.onText(rest, -1);
                }
            }
            end = System.nanoTime();
        }

        SpeculativeResult result() {
            if (!done) finish(reason);
            GenerationResult g = new GenerationResult(promptTokens, Arrays.copyOf(generated, count), text.toByteArray(), reason,
                    firstToken - start, end - firstToken);
            SpeculationStats s = sequence.stats();
            return new SpeculativeResult(g, new SpeculationStats(s.proposer(), s.steps(), s.proposed(), s.accepted(), count));
        }
    }
}
