package dev.tandem.ops;

import akka.grpc.GrpcClientSettings;
import dev.tandem.cluster.TlsSettings;
import dev.tandem.engine.model.TandemHome;
import io.grpc.CallCredentials;
import io.grpc.Metadata;

import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * How a command's gRPC clients reach a server: plain text or TLS trusting a CA certificate (PEM), and
 * the client token sent as {@code authorization: Bearer <token>} on every call.
 *
 * @param caCertificate PEM file of the CA to trust; empty = plain text (h2c)
 * @param token         client token for Inference; empty = none
 */
record ClientSecurity(Optional<Path> caCertificate, Optional<String> token) {

    static final ClientSecurity PLAIN = new ClientSecurity(Optional.empty(), Optional.empty());
    /** Environment variable with the client token when --token is not given. */
    static final String TOKEN_ENV = "TANDEM_TOKEN";

    /** The default development set ('tandem tls dev' without --out). */
    static Path defaultTlsDir() {
        return TandemHome.root().resolve("tls");
    }

    /**
     * From the --tls value (null = plain text, "" = the Tandem home's development set, a directory = its
     * ca.pem, else a PEM file) and the --token value (else $TANDEM_TOKEN).
     */
    static ClientSecurity of(String tls, String token) {
        Optional<Path> ca = Optional.empty();
        if (tls != null) {
            Path p = tls.isEmpty() ? defaultTlsDir() : Path.of(tls);
            Path pem = Files.isDirectory(p) ? p.resolve(TlsSettings.CA_CERT_FILE) : p;
            if (!Files.isRegularFile(pem)) {
                throw CommandFailure.usage("--tls: no CA certificate at " + pem + " (make a development set with 'tandem tls dev')");
            }
            ca = Optional.of(pem);
        }
        String t = token != null ? token : System.getenv(TOKEN_ENV);
        return new ClientSecurity(ca, Optional.ofNullable(t).map(String::strip).filter(s -> !s.isEmpty()));
    }

    ClientSecurity withoutToken() {
        return new ClientSecurity(caCertificate, Optional.empty());
    }

    GrpcClientSettings apply(GrpcClientSettings settings) {
        GrpcClientSettings s = settings.withTls(caCertificate.isPresent());
        if (caCertificate.isPresent()) s = s.withTrustManager(trustManager(caCertificate.get()));
        if (token.isPresent()) s = s.withCallCredentials(bearer(token.get()));
        return s;
    }

    private static TrustManager trustManager(Path pem) {
        try (InputStream in = Files.newInputStream(pem)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                store.setCertificateEntry("ca-" + i++, c);
            }
            if (i == 0) throw CommandFailure.usage("--tls: " + pem + " holds no certificate");
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return factory.getTrustManagers()[0];
        } catch (IOException | GeneralSecurityException e) {
            throw CommandFailure.usage("--tls: cannot read the CA certificate " + pem + ": " + e.getMessage());
        }
    }

    private static CallCredentials bearer(String token) {
        Metadata.Key<String> key = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata headers = new Metadata();
                headers.put(key, "Bearer " + token);
                applier.apply(headers);
            }

            @Override
            public void thisUsesUnstableApi() {}
        };
    }
}
