package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.tandem.cluster.EmbeddedCluster;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.protocol.activation.ActivationBatch;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.protocol.grpc.TokenizeRequest;
import dev.tandem.protocol.metrics.NodeMetrics;
import dev.tandem.protocol.metrics.PrometheusText;
import dev.tandem.worker.StageActor;
import dev.tandem.worker.WorkerNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

import static dev.tandem.ops.ClusterTestSupport.greedy;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malformed input, sent raw, against a running cluster (a coordinator with its real gRPC gateway on
 * loopback and one worker, each its own ActorSystem in this JVM): gRPC requests written as raw HTTP/2
 * frames (truncated and oversized gRPC frames, lying length prefixes, garbage and mutated protobuf,
 * invalid UTF-8, absurd field values, bad grpc-timeout headers, malformed HTTP/2), then corrupted
 * Arrow batches and Kryo payloads decoded by the worker's own serializers, as Artery would call them.
 * Every case must be refused with a reason, no node may die, and afterwards a greedy Generate must
 * still give the reference text byte for byte. The cases come from a seeded generator.
 */
class MalformedInputTest {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    private static final long SEED = 20261126L;
    private static final String GENERATE = "/tandem.v1.Inference/Generate";
    private static final String TOKENIZE = "/tandem.v1.Inference/Tokenize";
    private static final int OK = 0, INVALID_ARGUMENT = 3, DEADLINE_EXCEEDED = 4, NOT_FOUND = 5, RESOURCE_EXHAUSTED = 8, UNIMPLEMENTED = 12, INTERNAL = 13;
    /**
     * tandem.gateway.max-request-bytes and max-prompt-bytes as this test sets them: small, so that an
     * oversized body still fits HTTP/2's initial flow-control window (the raw client does no flow control).
     */
    private static final int RST_CANCEL = 8;
    private static final int CANCEL_POLLS = 600;
    private static final long CANCEL_POLL_MS = 50;
    /** How long a protocol-error case waits for the server to reset or close before it counts as tolerated. */
    private static final int PROTOCOL_ERROR_WAIT_MS = 5_000;
    private static final int MAX_REQUEST_BYTES = 16 * 1024;
    private static final int MAX_PROMPT_BYTES = 8 * 1024;

    private static EmbeddedCluster cluster;
    private static ActorSystem<Void> client;
    private static InferenceClient inference;
    private static RawH2c raw;
    private static int cases;

    @BeforeAll
    static void start() throws Exception {
        cluster = EmbeddedCluster.start(1, 0, Map.of("tandem.coordinator.min-workers", 1,
                "tandem.gateway.max-request-bytes", MAX_REQUEST_BYTES, "tandem.gateway.max-prompt-bytes", MAX_PROMPT_BYTES), READY_TIMEOUT);
        client = ClientSystem.create("malformed-input-test");
        HostAndPort target = new HostAndPort(cluster.grpcAddress().getHostString(), cluster.grpcAddress().getPort());
        try (HealthProbe health = new HealthProbe(client, target)) {
            assertTrue(health.awaitServing(READY_TIMEOUT, () -> true), "the cluster did not serve");
        }
        inference = InferenceClient.create(ClientSystem.settings(client, target), client);
        raw = new RawH2c(target.host(), target.port());
    }

    @AfterAll
    static void stop() {
        if (inference != null) inference.close();
        if (client != null) ClientSystem.terminate(client, Duration.ofSeconds(10));
        if (cluster != null) cluster.close();
    }

    private static GenerateRequest valid() {
        return greedy("Once upon a time", 4);
    }

    private static RawH2c.Outcome generate(byte[] body, String... headers) throws IOException {
        List<String[]> extra = new ArrayList<>();
        for (int i = 0; i < headers.length; i += 2) extra.add(new String[]{headers[i], headers[i + 1]});
        cases++;
        return raw.grpc(GENERATE, extra, body);
    }

    private static void expect(int status, String messagePart, RawH2c.Outcome outcome, String what) {
        assertEquals(status, outcome.grpcStatus(), () -> what + ": " + outcome);
        assertTrue(outcome.grpcMessage().contains(messagePart), () -> what + ": message lacks '" + messagePart + "': " + outcome);
    }

    /**
     * RESOURCE_EXHAUSTED naming the limit; or, when the server's answer overtakes the rest of the body,
     * the stream reset with CANCEL (HTTP/2 lets a server stop reading a request it has answered).
     */
    private static void expectTooLarge(RawH2c.Outcome outcome, String what) {
        if (outcome.reset() == RST_CANCEL && outcome.grpcStatus() < 0) return;
        expect(RESOURCE_EXHAUSTED, "max-request-bytes", outcome, what);
    }

    private static void expectRefused(RawH2c.Outcome outcome, String what) {
        assertTrue(outcome.refused(), () -> what + " was not refused: " + outcome);
        // Malformed input is the client's fault: never an internal error of ours.
        assertTrue(outcome.grpcStatus() != INTERNAL, () -> what + " was answered as an internal error: " + outcome);
        if (outcome.grpcStatus() > 0) assertFalse(outcome.grpcMessage().isBlank(), () -> what + ": no reason given: " + outcome);
    }

    /** A request body of raw protobuf fields. */
    private static byte[] fields(FieldWriter writer) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        writer.write(out);
        out.flush();
        return bytes.toByteArray();
    }

    private interface FieldWriter {
        void write(CodedOutputStream out) throws IOException;
    }

    @Test
    void malformedInputIsRefusedAndTheClusterKeepsServingExactly() throws Exception {
        Random random = new Random(SEED);
        byte[] validMessage = valid().toByteArray();

        // The raw client itself works: a valid request sent this way is answered OK with chunks.
        RawH2c.Outcome sane = generate(RawH2c.frame(validMessage));
        assertEquals(OK, sane.grpcStatus(), () -> "valid raw request: " + sane);
        assertTrue(sane.data().length > 0);

        // 1. Truncated gRPC frames: the length prefix promises more than the body holds (40 cases).
        for (int i = 0; i < 40; i++) {
            int keep = random.nextInt(validMessage.length);
            byte[] body = RawH2c.frame(0, validMessage.length, Arrays.copyOf(validMessage, keep));
            if (i % 4 == 0) body = Arrays.copyOf(body, 1 + random.nextInt(4)); // cut inside the 5-byte prefix
            expect(INVALID_ARGUMENT, "truncated", generate(body), "truncated frame " + i);
        }

        // 2. Oversized: bodies over tandem.gateway.max-request-bytes, and prefixes claiming huge messages (20 cases).
        for (int i = 0; i < 5; i++) {
            byte[] big = new byte[MAX_REQUEST_BYTES + 1 + random.nextInt(MAX_REQUEST_BYTES)];
            random.nextBytes(big);
            expectTooLarge(generate(RawH2c.frame(big)), "oversized body " + i);
        }
        byte[] hugePrompt = new byte[MAX_REQUEST_BYTES * 2];
        Arrays.fill(hugePrompt, (byte) 'a');
        byte[] hugePromptMessage = fields(out -> {
            out.writeString(1, "default");
            out.writeByteArray(2, hugePrompt);
        });
        expectTooLarge(generate(RawH2c.frame(hugePromptMessage)), "prompt over the body limit");
        for (int i = 0; i < 14; i++) {
            long claimed = i % 2 == 0 ? 0xFFFF_FFFFL - random.nextInt(1000) : (1L << 20) + random.nextInt(1 << 30);
            expectRefused(generate(RawH2c.frame(0, claimed, validMessage)), "lying prefix " + claimed);
        }

        // 3. Garbage protobuf in a well-formed gRPC frame (40 cases).
        for (int i = 0; i < 40; i++) {
            byte[] garbage = new byte[1 + random.nextInt(200)];
            random.nextBytes(garbage);
            expectRefused(generate(RawH2c.frame(garbage)), "garbage message " + i);
        }

        // 4. Mutations of a valid request (bit flips, byte changes, cuts, duplications): each either
        // runs as the request it now is, or is refused with a reason; the stream always ends cleanly (40 cases).
        for (int i = 0; i < 40; i++) {
            byte[] m = validMessage.clone();
            switch (i % 4) {
                case 0 -> m[random.nextInt(m.length)] ^= (byte) (1 << random.nextInt(8));
                case 1 -> m[random.nextInt(m.length)] = (byte) random.nextInt(256);
                case 2 -> m = Arrays.copyOf(m, 1 + random.nextInt(m.length - 1));
                default -> {
                    int at = random.nextInt(m.length);
                    byte[] longer = new byte[m.length + 3];
                    System.arraycopy(m, 0, longer, 0, at);
                    longer[at] = (byte) 0xFF;
                    longer[at + 1] = (byte) 0xFF;
                    longer[at + 2] = (byte) 0x7F;
                    System.arraycopy(m, at, longer, at + 3, m.length - at);
                    m = longer;
                }
            }
            RawH2c.Outcome o = generate(RawH2c.frame(m));
            int index = i;
            assertTrue(o.grpcStatus() == OK ? o.data().length > 0
                            : o.refused() && !o.grpcMessage().isBlank() && o.grpcStatus() != INTERNAL,
                    () -> "mutation " + index + ": " + o);
        }

        // 5. Invalid UTF-8 in the prompt (and in the model and a stop string) (21 cases).
        byte[][] invalidUtf8 = {
                {(byte) 0xC3, (byte) 0x28}, {(byte) 0xFF}, {(byte) 0xFE, (byte) 0xFF}, {(byte) 0xC0, (byte) 0xAF},
                {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
                {(byte) 0xE2, (byte) 0x82}, {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}, {(byte) 0x80}, {(byte) 0xBF, 'a'},
                {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {'O', 'k', (byte) 0xC3}, {(byte) 0xC1, (byte) 0xBF},
                {(byte) 0xF5, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xE0, (byte) 0x9F, (byte) 0xBF},
        };
        for (byte[] bad : invalidUtf8) {
            byte[] prompt = concat("Once ".getBytes(StandardCharsets.UTF_8), bad);
            byte[] message = fields(out -> {
                out.writeString(1, "default");
                out.writeByteArray(2, prompt);
                out.writeInt32(3, 4);
            });
            expect(INVALID_ARGUMENT, "UTF-8", generate(RawH2c.frame(message)), "invalid UTF-8 " + Arrays.toString(bad));
        }
        for (int i = 0; i < 5; i++) {
            byte[] bad = invalidUtf8[random.nextInt(invalidUtf8.length)];
            int field = i % 2 == 0 ? 1 : 8; // model, a stop string
            byte[] message = fields(out -> {
                if (field != 1) out.writeString(1, "default");
                out.writeString(2, "Once upon a time");
                out.writeByteArray(field, bad);
            });
            expect(INVALID_ARGUMENT, "UTF-8", generate(RawH2c.frame(message)), "invalid UTF-8 in field " + field);
        }

        // 6. Absurd field values, each with the status and the field it names (33 cases).
        List<Object[]> absurd = new ArrayList<>();
        for (float t : new float[]{Float.NaN, -1f, -0.0001f, 2.0001f, 1e30f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            absurd.add(new Object[]{valid().toBuilder().setTemperature(t).build(), INVALID_ARGUMENT, "temperature"});
        }
        for (int k : new int[]{-1, -5, Integer.MIN_VALUE}) {
            absurd.add(new Object[]{valid().toBuilder().setTopK(k).build(), INVALID_ARGUMENT, "top_k"});
        }
        for (float p : new float[]{Float.NaN, -0.5f, 1.5f, Float.POSITIVE_INFINITY}) {
            absurd.add(new Object[]{valid().toBuilder().setTopP(p).build(), INVALID_ARGUMENT, "top_p"});
        }
        for (int n : new int[]{-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 257, 1_000_000}) {
            absurd.add(new Object[]{valid().toBuilder().setMaxTokens(n).build(), INVALID_ARGUMENT, "max_tokens"});
        }
        GenerateRequest.Builder manyStops = valid().toBuilder();
        for (int i = 0; i < 17; i++) manyStops.addStop("s" + i);
        absurd.add(new Object[]{manyStops.build(), INVALID_ARGUMENT, "stop strings"});
        absurd.add(new Object[]{valid().toBuilder().addStop("x".repeat(257)).build(), INVALID_ARGUMENT, "stop[0]"});
        absurd.add(new Object[]{valid().toBuilder().addStop("").build(), INVALID_ARGUMENT, "stop[0]"});
        absurd.add(new Object[]{valid().toBuilder().setSpeculate("everything").build(), INVALID_ARGUMENT, "speculate"});
        absurd.add(new Object[]{valid().toBuilder().setSpeculate("\u0000").build(), INVALID_ARGUMENT, "speculate"});
        absurd.add(new Object[]{valid().toBuilder().setModel("").build(), INVALID_ARGUMENT, "model"});
        absurd.add(new Object[]{valid().toBuilder().setModel("no-such-model").build(), NOT_FOUND, "no-such-model"});
        absurd.add(new Object[]{valid().toBuilder().setModel("m".repeat(10_000)).build(), NOT_FOUND, "not served"});
        absurd.add(new Object[]{valid().toBuilder().setModel("../../etc/passwd").build(), NOT_FOUND, "not served"});
        absurd.add(new Object[]{valid().toBuilder().setPrompt("").build(), INVALID_ARGUMENT, "prompt"});
        absurd.add(new Object[]{valid().toBuilder().setPrompt("a".repeat(MAX_PROMPT_BYTES + 1)).build(), INVALID_ARGUMENT, "prompt is"});
        absurd.add(new Object[]{valid().toBuilder().setPrompt("é".repeat(MAX_PROMPT_BYTES / 2 + 1)).build(), INVALID_ARGUMENT, "prompt is"});
        absurd.add(new Object[]{valid().toBuilder().setPrompt("Once upon a time ".repeat(100)).build(), INVALID_ARGUMENT, "context"});
        absurd.add(new Object[]{valid().toBuilder().setPrompt("\u0000\u0000").setTemperature(-3).build(), INVALID_ARGUMENT, "temperature"});
        for (Object[] a : absurd) {
            GenerateRequest request = (GenerateRequest) a[0];
            String what = "absurd " + a[2];
            expect((Integer) a[1], (String) a[2], generate(RawH2c.frame(request.toByteArray())), what);
        }

        // 7. Bad gRPC framing and calls (15 cases).
        expect(INVALID_ARGUMENT, "no message", generate(new byte[0]), "no request message");
        expect(INVALID_ARGUMENT, "more than one message", generate(concat(RawH2c.frame(validMessage), RawH2c.frame(validMessage))),
                "two request messages");
        expectRefused(generate(RawH2c.frame(1, validMessage.length, validMessage)), "compressed flag without grpc-encoding");
        expectRefused(generate(RawH2c.frame(1, validMessage.length, validMessage), "grpc-encoding", "gzip"), "not gzip data");
        expectRefused(generate(RawH2c.frame(7, validMessage.length, validMessage)), "flag 7");
        expectRefused(generate(RawH2c.frame(validMessage), "grpc-encoding", "brotli-9000"), "unknown encoding");
        expectRefused(generate(RawH2c.frame(validMessage), "content-type", "text/plain"), "wrong content type");
        expectRefused(generate(RawH2c.frame(validMessage), "content-type", "application/grpc+json"), "json content type");
        cases++;
        expect(UNIMPLEMENTED, "", raw.grpc("/tandem.v1.Inference/Explode", List.of(), RawH2c.frame(validMessage)), "unknown method");
        cases++;
        expectRefused(raw.grpc("/no.such.Service/Call", List.of(), RawH2c.frame(validMessage)), "unknown service");
        cases++;
        expect(OK, "", raw.grpc(TOKENIZE, List.of(), RawH2c.frame(TokenizeRequest.newBuilder().setModel("default").setText("hi").build().toByteArray())),
                "tokenize sanity");
        cases++;
        expect(INVALID_ARGUMENT, "UTF-8", raw.grpc(TOKENIZE, List.of(), RawH2c.frame(fields(out -> {
            out.writeString(1, "default");
            out.writeByteArray(2, new byte[]{(byte) 0xFF, (byte) 0xFE});
        }))), "tokenize invalid UTF-8");
        cases++;
        expectRefused(raw.grpc(TOKENIZE, List.of(), RawH2c.frame(0, 1 << 30, new byte[10])), "tokenize lying prefix");
        cases++;
        expect(INVALID_ARGUMENT, "text is", raw.grpc(TOKENIZE, List.of(), RawH2c.frame(TokenizeRequest.newBuilder()
                .setModel("default").setText("b".repeat(MAX_PROMPT_BYTES + 1)).build().toByteArray())), "tokenize over-long text");
        expectRefused(generate(RawH2c.frame(ByteString.copyFromUtf8("\n\u0007default").toByteArray())), "missing prompt");

        // 8. grpc-timeout: malformed values are refused; a deadline that passes ends the stream with
        // DEADLINE_EXCEEDED (the sequence is cancelled in the scheduler) (8 cases).
        for (String bad : new String[]{"abc", "123456789S", "10x", "-5S", "S", "1.5S", ""}) {
            expect(INVALID_ARGUMENT, "grpc-timeout", generate(RawH2c.frame(validMessage), "grpc-timeout", bad), "grpc-timeout " + bad);
        }
        byte[] longGeneration = greedy("Once upon a time", 256).toByteArray();
        double cancelledBefore = cancelledRequests();
        expect(DEADLINE_EXCEEDED, "deadline", generate(RawH2c.frame(longGeneration), "grpc-timeout", "150m"), "short deadline");
        // The sequence was cancelled in the scheduler, not left to run to its end (GenerationSession counts it).
        awaitCancelledRequests(cancelledBefore + 1);

        // 9. Malformed HTTP/2 (15 cases): frames that break the protocol; the connection is refused, the server stays up.
        List<byte[]> protocolErrors = List.of(
                h2(RawH2c.HEADERS, RawH2c.END_HEADERS, 0, new byte[]{(byte) 0x82}),  // HEADERS on stream 0
                h2(RawH2c.SETTINGS, 0, 0, new byte[5]),                               // SETTINGS not a multiple of 6
                h2(RawH2c.SETTINGS, 0, 5, new byte[0]),                               // SETTINGS on a stream
                h2(RawH2c.WINDOW_UPDATE, 0, 0, new byte[4]),                          // zero window increment
                h2(RawH2c.PING, 0, 0, new byte[5]),                                   // PING of 5 bytes
                h2(RawH2c.RST_STREAM, 0, 0, new byte[4]),                             // RST_STREAM on stream 0
                h2(RawH2c.GOAWAY, 0, 3, new byte[8]),                                 // GOAWAY on a stream
                h2(RawH2c.SETTINGS, 0, 0, new byte[]{0, 4, (byte) 0x80, 0, 0, 0}),    // initial window over 2^31-1
                h2(0x9, RawH2c.END_HEADERS, 1, new byte[]{(byte) 0x82}),              // CONTINUATION without HEADERS
                h2(RawH2c.DATA, RawH2c.END_STREAM, 1, new byte[4])                    // DATA on an idle stream
        );
        // (Akka HTTP 10.2 tolerates, without harm, DATA on stream 0, ENABLE_PUSH = 2 from a client and a
        // connection window update past 2^31-1; those are not listed.)
        for (int i = 0; i < protocolErrors.size(); i++) {
            cases++;
            RawH2c.Outcome o = raw.raw(protocolErrors.get(i), PROTOCOL_ERROR_WAIT_MS);
            int index = i;
            assertTrue(o.goAway() >= 0 || o.closed() || o.reset() >= 0, () -> "HTTP/2 protocol error case " + index + ": " + o);
        }
        for (int i = 0; i < 5; i++) {
            // A HEADERS frame whose block is not HPACK (an index beyond any table).
            byte[] block = new byte[1 + random.nextInt(40)];
            random.nextBytes(block);
            block[0] = (byte) 0xFF;
            block[1 % block.length] = (byte) 0xFF;
            cases++;
            RawH2c.Outcome o = raw.raw(h2(RawH2c.HEADERS, RawH2c.END_HEADERS | RawH2c.END_STREAM, 1, block), PROTOCOL_ERROR_WAIT_MS);
            assertTrue(o.goAway() >= 0 || o.closed() || o.reset() >= 0, () -> "bad HPACK: " + o);
        }

        // 10. Corrupted Arrow batches and Kryo payloads, decoded by the worker's serializers as Artery would (60 cases).
        cases += corruptedWorkerPayloads(random);

        assertTrue(cases >= 200, "only " + cases + " cases ran");

        // No node died, and the cluster still serves the exact greedy text.
        assertFalse(cluster.coordinator().system().whenTerminated().isCompleted(), "the coordinator died");
        for (var w : cluster.workers()) assertFalse(w.system().whenTerminated().isCompleted(), "a worker died");
        List<GenerateChunk> chunks = ClusterTestSupport.generate(client, inference, greedy("Once upon a time", 0));
        assertEquals(ClusterTestSupport.reference("greedy_once_upon_a_time.txt"),
                "Once upon a time" + ClusterTestSupport.text(chunks) + "\n");
    }

    /** Mutated Arrow and Kryo bytes through the worker's own serializers; every structural corruption fails with a reason. */
    private static int corruptedWorkerPayloads(Random random) {
        ActorSystem<?> worker = cluster.workers().getFirst().system();
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(worker));
        int count = 0;

        float[] hidden = new float[3 * 288];
        for (int i = 0; i < hidden.length; i++) hidden[i] = random.nextFloat();
        ActivationBatch batch = ActivationBatch.of("stories15M/0-6", 7, 288, new long[]{1, 1, 2}, new int[]{0, 1, 0}, hidden);
        Object[] messages = {batch, new WorkerNode.DropRange("stories15M", 0, 3), new StageActor.Release(new long[]{1, 2, 3})};
        for (Object message : messages) {
            Serializer serializer = serialization.findSerializerFor(message);
            String manifest = Serializers.manifestFor(serializer, message);
            byte[] bytes = serializer.toBinary(message);
            // The untouched bytes decode (the harness is sound).
            assertTrue(serialization.deserialize(bytes, serializer.identifier(), manifest).isSuccess());
            for (int i = 0; i < 20; i++) {
                byte[] corrupted;
                Predicate<Object> mustFail;
                switch (i % 4) {
                    case 0 -> corrupted = Arrays.copyOf(bytes, random.nextInt(bytes.length)); // truncated
                    case 1 -> { // random bytes of the same size
                        corrupted = new byte[bytes.length];
                        random.nextBytes(corrupted);
                    }
                    case 2 -> { // a length or count field overwritten with a huge value
                        corrupted = bytes.clone();
                        int at = random.nextInt(Math.max(1, Math.min(bytes.length - 4, 64)));
                        corrupted[at] = (byte) 0x7F;
                        corrupted[at + 1] = (byte) 0xFF;
                        corrupted[at + 2] = (byte) 0xFF;
                        corrupted[at + 3] = (byte) 0xFF;
                    }
                    default -> { // trailing garbage
                        corrupted = concat(bytes, new byte[]{(byte) random.nextInt(256), 1, 2, 3});
                    }
                }
                count++;
                var result = serialization.deserialize(corrupted, serializer.identifier(), manifest);
                if (result.isFailure()) {
                    String reason = result.failed().get().getMessage();
                    assertTrue(reason != null && !reason.isBlank(), "a failure without a reason for " + message.getClass().getSimpleName());
                } else {
                    // A change inside the values can decode (a float is a float); it must still be the same kind of message.
                    int index = i;
                    assertEquals(message.getClass(), result.get().getClass(), () -> "case " + index);
                    assertTrue(index % 4 == 2, () -> "a truncated, random or padded payload decoded: case " + index + " of " + message.getClass());
                }
            }
        }
        return count;
    }

    private static double cancelledRequests() {
        return PrometheusText.parse(NodeMetrics.of(cluster.coordinator().system()).scrape())
                .sum("tandem_requests_total", Map.of("outcome", "cancelled"));
    }

    /** Polls the coordinator's request counter; the session records the cancellation asynchronously. */
    private static void awaitCancelledRequests(double atLeast) throws InterruptedException {
        for (int i = 0; i < CANCEL_POLLS && cancelledRequests() < atLeast; i++) Thread.sleep(CANCEL_POLL_MS);
        assertTrue(cancelledRequests() >= atLeast, "the sequence past its deadline was not cancelled");
    }

    private static byte[] h2(int type, int flags, int stream, byte[] payload) throws IOException {
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        RawH2c.writeFrame(frame, type, flags, stream, payload);
        return frame.toByteArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
