package dev.tandem.coordinator.grpc;

import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpHeader;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.headers.RawHeader;
import akka.japi.function.Function;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The admin token check in front of the Admin service: a call must carry {@code authorization: Bearer <token>}
 * metadata, otherwise it is answered UNAUTHENTICATED (a trailers-only gRPC response) without reaching the service.
 */
public final class AdminAuth {

    public static final String HEADER = "authorization";
    public static final String SCHEME = "Bearer ";
    static final String MISSING = "this call needs the admin token: send 'authorization: Bearer <token>' "
            + "(tandem ctl reads --token, $TANDEM_ADMIN_TOKEN or $TANDEM_HOME/cluster/admin.token)";
    static final String WRONG = "the admin token is not valid for this cluster";
    private static final int GRPC_UNAUTHENTICATED = 16;
    private static final int TOKEN_BYTES = 24;

    private AdminAuth() {}

    /** A fresh random token (48 hex characters). */
    public static String generateToken() {
        byte[] bytes = new byte[TOKEN_BYTES];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** Wraps {@code handler} so that only calls with the token reach it. */
    public static Function<HttpRequest, CompletionStage<HttpResponse>> protect(String token,
                                                                              Function<HttpRequest, CompletionStage<HttpResponse>> handler,
                                                                              String servicePrefix) {
        if (token == null || token.isEmpty()) throw new IllegalArgumentException("the admin token must not be empty");
        byte[] expected = token.getBytes(StandardCharsets.UTF_8);
        return request -> {
            if (!request.getUri().path().startsWith(servicePrefix)) return handler.apply(request);
            Optional<HttpHeader> header = request.getHeader(HEADER);
            if (header.isEmpty() || !header.get().value().startsWith(SCHEME)) return refuse(MISSING);
            byte[] given = header.get().value().substring(SCHEME.length()).trim().getBytes(StandardCharsets.UTF_8);
            if (!MessageDigest.isEqual(expected, given)) return refuse(WRONG);
            return handler.apply(request);
        };
    }

    private static CompletionStage<HttpResponse> refuse(String message) {
        return CompletableFuture.completedFuture(HttpResponse.create()
                .withEntity(ContentTypes.create(akka.http.javadsl.model.MediaTypes.applicationBinary("grpc+proto", false)), new byte[0])
                .addHeaders(List.of(RawHeader.create("grpc-status", Integer.toString(GRPC_UNAUTHENTICATED)),
                        RawHeader.create("grpc-message", message))));
    }
}
