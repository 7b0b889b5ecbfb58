package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.stream.javadsl.Sink;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.tokenizer.BpeTokenizer;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.worker.ModelFootprint;
import io.grpc.StatusRuntimeException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the cluster tests share: the single-process reference engine, prompts, requests, awaiting. */
final class ClusterTestSupport implements AutoCloseable {

    static final long TIMEOUT_SECONDS = 120;
    static final String MODEL = "stories15M";
    static final int CONTEXT = 256;

    /** Sixteen different prompts for the concurrency tests. */
    static final List<String> SIXTEEN_PROMPTS;

    static {
        String[] subjects = {"a cat", "a dog", "Tom", "Sue", "a bird", "a fish", "Max", "Anna", "a frog", "Ben",
                "a little boy", "a big bear", "Mia", "a duck", "the sun", "an old tree"};
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < subjects.length; i++) prompts.add("Once upon a time, " + subjects[i] + (i % 2 == 0 ? " wanted to" : " saw"));
        SIXTEEN_PROMPTS = List.copyOf(prompts);
    }

    private final LoadedModel model;
    private final ParallelRunner runner;
    private final LocalGenerator generator;

    ClusterTestSupport() {
        model = Llama2cModelLoader.load(TandemHome.defaultModelDir().resolve("model.bin"));
        runner = new ParallelRunner(1);
        generator = new LocalGenerator(model.weights(),
                BpeTokenizer.fromLlama2c(TandemHome.defaultModelDir().resolve("tokenizer.bin"), model.config().vocabSize()),
                runner);
    }

    /** Memory the model's layers, embedding and head take, as placement counts it. */
    ModelFootprint footprint() {
        return ModelFootprint.of(model.weights());
    }

    /** The single-process engine's greedy output for a prompt. */
    /**
     * A worker memory budget of {@code wholeLayers} and a half layers plus the larger of embedding and
     * output head: room for the ranges a test plans, not for the whole model.
     */
    long layerBudget(int wholeLayers) {
        ModelFootprint f = footprint();
        return Math.max(f.embeddingBytes(), f.headBytes()) + wholeLayers * f.layerBytes() + f.layerBytes() / 2;
    }

    /** Starts {@code tandem ARGS} as a separate JVM whose output goes to {@code logs/NAME.log}. */
    static Process startNode(java.nio.file.Path logs, String name, String... args) throws IOException {
        java.nio.file.Path log = logs.resolve(name + ".log");
        java.nio.file.Files.deleteIfExists(log);
        List<String> arguments = new java.util.ArrayList<>(List.of(args));
        arguments.addAll(List.of("--log-file", NodeCommand.LOG_TO_STDOUT));
        // Drafts the nodes publish or replicate stay in the test's directory, not in the shared Tandem home.
        String drafts = logs.resolve(name + "-drafts").toAbsolutePath().toString();
        arguments.addAll(List.of("-c", "tandem.drafts.dir=" + drafts, "-c", "tandem.drafts.worker-dir=" + drafts));
        Process p = new ProcessBuilder(JavaCommand.tandem(arguments))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        p.getOutputStream().close();
        return p;
    }

    GenerationResult solo(String prompt, int maxTokens) {
        return generator.generate(GenerationRequest.greedy(prompt, maxTokens), GenerationListener.NONE);
    }

    static GenerateRequest greedy(String prompt, int maxTokens) {
        return GenerateRequest.newBuilder().setModel(MODEL).setPrompt(prompt).setMaxTokens(maxTokens).build();
    }

    /** A request whose prompt (field 2) holds bytes that are not UTF-8, smuggled in as an unknown field. */
    static GenerateRequest invalidUtf8Prompt() {
        byte[] invalid = {'h', 'i', (byte) 0xC3, (byte) 0x28, (byte) 0xFF};
        return GenerateRequest.newBuilder().setModel(MODEL).setMaxTokens(5)
                .setUnknownFields(UnknownFieldSet.newBuilder()
                        .addField(GenerateRequest.PROMPT_FIELD_NUMBER, UnknownFieldSet.Field.newBuilder()
                                .addLengthDelimited(ByteString.copyFrom(invalid)).build())
                        .build())
                .build();
    }

    static String text(List<GenerateChunk> chunks) {
        StringBuilder out = new StringBuilder();
        for (GenerateChunk c : chunks) out.append(c.getText());
        return out.toString();
    }

    static String reference(String name) throws IOException {
        try (InputStream in = ClusterTestSupport.class.getResourceAsStream("/reference/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static List<GenerateChunk> generate(ActorSystem<?> system, InferenceClient client, GenerateRequest request) throws Exception {
        return await(client.generate(request).runWith(Sink.seq(), system));
    }

    /** Sixteen concurrent streams (different prompts and lengths) each equal the single-process engine's text. */
    void assertSixteenConcurrentStreamsEqualSolo(ActorSystem<?> system, InferenceClient client) throws Exception {
        List<CompletionStage<List<GenerateChunk>>> runs = new ArrayList<>();
        for (int i = 0; i < SIXTEEN_PROMPTS.size(); i++) {
            runs.add(client.generate(greedy(SIXTEEN_PROMPTS.get(i), 40 + i)).runWith(Sink.seq(), system));
        }
        for (int i = 0; i < runs.size(); i++) {
            List<GenerateChunk> chunks = await(runs.get(i));
            GenerationResult solo = solo(SIXTEEN_PROMPTS.get(i), 40 + i);
            assertEquals(solo.textAsString(), text(chunks), "prompt " + SIXTEEN_PROMPTS.get(i));
            assertEquals(solo.tokens().length, chunks.getLast().getUsage().getCompletionTokens());
        }
    }

    static void assertStatus(ActorSystem<?> system, InferenceClient client, io.grpc.Status.Code code, String messagePart,
                             GenerateRequest request) {
        StatusRuntimeException e = statusOf(client.generate(request).runWith(Sink.seq(), system));
        assertEquals(code, e.getStatus().getCode(), () -> "status " + e.getStatus());
        String description = e.getStatus().getDescription();
        assertTrue(description != null && description.contains(messagePart), () -> "message: " + description);
    }

    static StatusRuntimeException statusOf(CompletionStage<?> call) {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> call.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause());
    }

    static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        runner.close();
        model.close();
    }
}
