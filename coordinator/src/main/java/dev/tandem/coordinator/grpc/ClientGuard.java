package dev.tandem.coordinator.grpc;

import akka.NotUsed;
import akka.grpc.GrpcServiceException;
import akka.grpc.javadsl.Metadata;
import akka.stream.javadsl.Source;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.InferencePowerApi;
import dev.tandem.protocol.grpc.ListModelsRequest;
import dev.tandem.protocol.grpc.ListModelsResponse;
import dev.tandem.protocol.grpc.TokenizeRequest;
import dev.tandem.protocol.grpc.TokenizeResponse;
import io.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the gateway checks about the caller before {@link InferenceService} sees a request: the client
 * token (when tokens are configured), the number of Generate streams the token has open, and the
 * request's deadline (the client's {@code grpc-timeout}, capped by {@code tandem.gateway.max-request-duration}).
 * A stream that outlives its deadline fails with DEADLINE_EXCEEDED; failing it cancels the backend's
 * source, and with it the sequence in the scheduler.
 */
public final class ClientGuard implements InferencePowerApi {

    private static final Logger log = LoggerFactory.getLogger(ClientGuard.class);

    static final String TIMEOUT_HEADER = "grpc-timeout";
    static final String MISSING = "this call needs a client token: send 'authorization: Bearer <token>' "
            + "(tandem generate reads --token or $TANDEM_TOKEN)";
    static final String WRONG = "the client token is not valid for this server";
    /** grpc-timeout: at most 8 digits and a unit (gRPC over HTTP/2 spec). */
    private static final int MAX_TIMEOUT_DIGITS = 8;

    private final Inference delegate;
    private final GatewaySettings settings;
    private final List<byte[]> tokens;
    /** Open Generate streams per token (keyed by the token's digest, so no token sits in a map dump). */
    private final ConcurrentHashMap<String, AtomicInteger> openStreams = new ConcurrentHashMap<>();

    public ClientGuard(Inference delegate, GatewaySettings settings) {
        this.delegate = delegate;
        this.settings = settings;
        this.tokens = settings.clientTokens().stream().map(t -> t.getBytes(StandardCharsets.UTF_8)).toList();
    }

    @Override
    public Source<GenerateChunk, NotUsed> generate(GenerateRequest in, Metadata metadata) {
        Optional<String> client;
        Duration deadline;
        try {
            client = authenticate(metadata);
            deadline = deadline(metadata);
        } catch (GrpcServiceException e) {
            return Source.failed(e);
        }
        Source<GenerateChunk, NotUsed> bounded = delegate.generate(in)
                .completionTimeout(deadline)
                .mapError(TimeoutException.class, e -> deadlineExceeded(deadline));
        if (client.isEmpty()) return bounded;
        String key = client.get();
        // The slot is taken when the response stream starts and given back when it ends, however it ends.
        return Source.<GenerateChunk, NotUsed>fromMaterializer((mat, attributes) -> {
            AtomicInteger open = openStreams.computeIfAbsent(key, k -> new AtomicInteger());
            if (open.incrementAndGet() > settings.maxStreamsPerToken()) {
                open.decrementAndGet();
                log.info("refused a Generate stream: client {} already has {} open (tandem.gateway.client-auth.max-streams-per-token)",
                        key, settings.maxStreamsPerToken());
                return Source.failed(new GrpcServiceException(Status.RESOURCE_EXHAUSTED.withDescription(
                        "this client token already has " + settings.maxStreamsPerToken()
                                + " Generate streams open, the most allowed at once; wait for one to end")));
            }
            return bounded.watchTermination((m, done) -> {
                done.whenComplete((ok, failure) -> open.decrementAndGet());
                return m;
            });
        }).mapMaterializedValue(m -> NotUsed.getInstance());
    }

    @Override
    public CompletionStage<TokenizeResponse> tokenize(TokenizeRequest in, Metadata metadata) {
        try {
            authenticate(metadata);
        } catch (GrpcServiceException e) {
            return CompletableFuture.failedFuture(e);
        }
        return delegate.tokenize(in);
    }

    @Override
    public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in, Metadata metadata) {
        try {
            authenticate(metadata);
        } catch (GrpcServiceException e) {
            return CompletableFuture.failedFuture(e);
        }
        return delegate.listModels(in);
    }

    /** The client's key (a digest of its token) when tokens are configured; empty when Inference is open. */
    private Optional<String> authenticate(Metadata metadata) {
        if (tokens.isEmpty()) return Optional.empty();
        Optional<String> header = metadata.getText(AdminAuth.HEADER);
        if (header.isEmpty() || !header.get().startsWith(AdminAuth.SCHEME)) {
            log.info("refused an Inference call without a client token");
            throw new GrpcServiceException(Status.UNAUTHENTICATED.withDescription(MISSING));
        }
        byte[] given = header.get().substring(AdminAuth.SCHEME.length()).trim().getBytes(StandardCharsets.UTF_8);
        boolean known = false;
        for (byte[] token : tokens) known |= MessageDigest.isEqual(token, given); // no early exit: constant time
        if (!known) {
            log.info("refused an Inference call with an unknown client token");
            throw new GrpcServiceException(Status.UNAUTHENTICATED.withDescription(WRONG));
        }
        return Optional.of(digest(given));
    }

    private Duration deadline(Metadata metadata) {
        Duration max = settings.maxRequestDuration();
        Optional<String> header = metadata.getText(TIMEOUT_HEADER);
        if (header.isEmpty()) return max;
        Duration client = parseTimeout(header.get());
        return client.compareTo(max) < 0 ? client : max;
    }

    /** The value of a grpc-timeout header ("100m", "5S", ...), or INVALID_ARGUMENT. */
    static Duration parseTimeout(String value) {
        String v = value.strip();
        if (v.length() < 2 || v.length() > MAX_TIMEOUT_DIGITS + 1 || !v.substring(0, v.length() - 1).chars().allMatch(Character::isDigit)) {
            throw invalidTimeout(value);
        }
        long amount = Long.parseLong(v.substring(0, v.length() - 1));
        return switch (v.charAt(v.length() - 1)) {
            case 'H' -> Duration.ofHours(amount);
            case 'M' -> Duration.ofMinutes(amount);
            case 'S' -> Duration.ofSeconds(amount);
            case 'm' -> Duration.ofMillis(amount);
            case 'u' -> Duration.ofNanos(amount * 1_000);
            case 'n' -> Duration.ofNanos(amount);
            default -> throw invalidTimeout(value);
        };
    }

    private static GrpcServiceException invalidTimeout(String value) {
        return new GrpcServiceException(Status.INVALID_ARGUMENT.withDescription(
                "grpc-timeout \"" + value + "\" is not a timeout (up to 8 digits and a unit H, M, S, m, u or n)"));
    }

    private static GrpcServiceException deadlineExceeded(Duration deadline) {
        log.info("a Generate stream reached its deadline of {} ms; its sequence is cancelled", deadline.toMillis());
        return new GrpcServiceException(Status.DEADLINE_EXCEEDED.withDescription("the request's deadline of "
                + deadline.toMillis() + " ms passed before generation ended (the client's grpc-timeout, at most "
                + "tandem.gateway.max-request-duration); the sequence was cancelled"));
    }

    private static String digest(byte[] token) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(token);
            return HexFormat.of().formatHex(d, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
