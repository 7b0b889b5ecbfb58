package dev.tandem.engine.generate;

import dev.tandem.engine.llama.ForwardBatch;
import dev.tandem.engine.llama.LlamaStage;
import dev.tandem.engine.llama.RowOutput;
import dev.tandem.engine.llama.StageOutput;
import dev.tandem.engine.model.EngineSettings;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.sampling.GreedySampler;
import dev.tandem.engine.sampling.Sampler;
import dev.tandem.engine.sampling.Samplers;
import dev.tandem.engine.tokenizer.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Generates text for one sequence at a time in this process, over all layers of a model: the prompt
 * is prefilled in one multi-token forward, then tokens are decoded one per step. Not thread-safe:
 * one generator serves one caller at a time.
 */
public final class LocalGenerator {

    private static final long SEQUENCE_ID = 0;

    private final ModelConfig config;
    private final Tokenizer tokenizer;
    private final LlamaStage stage;
    private final ForwardBatch batch;

    public LocalGenerator(ModelWeights weights, Tokenizer tokenizer, ParallelRunner runner) {
        this.config = weights.config();
        if (tokenizer.vocabSize() != config.vocabSize()) {
            throw new IllegalArgumentException("the tokenizer has " + tokenizer.vocabSize()
                    + " tokens but the model's vocabulary has " + config.vocabSize());
        }
        this.tokenizer = tokenizer;
        this.stage = new LlamaStage(weights, 0, config.nLayers(), runner, config.seqLen());
        stage.useGreedyScreen(EngineSettings.load().greedyScreen());
        this.batch = new ForwardBatch(config.dim(), config.seqLen());
    }

    public Tokenizer tokenizer() { return tokenizer; }

    /** See {@link LlamaStage#screenWarm()}: false while greedy tokens still take the whole head for want of the JIT. */
    public boolean screenWarm() { return stage.screenWarm(); }

    public ModelConfig config() { return config; }

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

    public GenerationResult generate(GenerationRequest request, GenerationListener listener) {
        int[] prompt = encodePrompt(request.prompt());
        Sampler sampler = Samplers.create(request.sampling(), config.vocabSize());
        StopStringFilter stops = new StopStringFilter(request.stopStrings());
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        listener.onPrompt(decode(prompt));

        // The last token sampled never needs a forward of its own, so the context holds one more.
        int budget = Math.min(request.maxNewTokens(), config.seqLen() - prompt.length + 1);
        int[] generated = new int[budget];
        int count = 0;
        FinishReason reason = FinishReason.LENGTH;
        long start = System.nanoTime();
        long firstToken = start;
        try {
            // Greedy decoding needs only each step's argmax, which the stage may find without the whole head.
            RowOutput wanted = sampler instanceof GreedySampler ? RowOutput.GREEDY_TOKEN : RowOutput.LOGITS;
            batch.clear();
            for (int i = 0; i < prompt.length; i++) {
                batch.addToken(SEQUENCE_ID, i, prompt[i], i == prompt.length - 1 ? wanted : RowOutput.HIDDEN);
            }
            int previous = prompt[prompt.length - 1];
            int position = prompt.length;
            while (true) {
                if (listener.cancelled()) {
                    reason = FinishReason.CANCELLED;
                    break;
                }
                StageOutput out = stage.forward(batch);
                int row = batch.rows() - 1;
                int next = wanted == RowOutput.GREEDY_TOKEN ? out.argmax(row)
                        : sampler.sample(out.logits(), out.logitsOffset(row), config.vocabSize());
                if (count == 0) firstToken = System.nanoTime();
                generated[count++] = next;
                if (next == tokenizer.eosId() || next == tokenizer.bosId()) {
                    reason = FinishReason.EOS;
                    break;
                }
                byte[] piece = stops.accept(tokenizer.decodeBytes(previous, next));
                if (piece.length > 0) {
                    text.writeBytes(piece);
                    listener.onText(piece, next);
                }
                if (stops.stopped()) {
                    reason = FinishReason.STOP;
                    break;
                }
                if (count == budget) break;
                batch.clear();
                batch.addToken(SEQUENCE_ID, position++, next, wanted);
                previous = next;
            }
            if (!stops.stopped()) {
                byte[] rest = stops.flush();
                if (rest.length > 0) {
                    text.writeBytes(rest);
                    listener.onText(rest, -1);
                }
            }
        } finally {
            stage.cache().release(SEQUENCE_ID);
        }
        long end = System.nanoTime();
        return new GenerationResult(prompt, Arrays.copyOf(generated, count), text.toByteArray(), reason,
                firstToken - start, end - firstToken);
    }

    /** The text of a token sequence as the model sees it (SentencePiece drops the space after BOS). */
    public byte[] decode(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int previous = tokenizer.bosId();
        for (int t : tokens) {
            out.writeBytes(tokenizer.decodeBytes(previous, t));
            previous = t;
        }
        return out.toByteArray();
    }
}
