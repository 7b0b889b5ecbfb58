package dev.tandem.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;

/**
 * Typed view of {@code tandem.tls}: one PKCS12 keystore (this node's key and certificate, signed by the
 * cluster's CA) and one truststore (the CA), used both by the public gRPC endpoint (HTTPS, HTTP/2 by
 * ALPN) and by Artery between nodes ({@code tls-tcp} with mutual authentication: a node whose
 * certificate the CA did not sign cannot connect, so it cannot join).
 *
 * @param enabled    TLS on both the gRPC endpoint and Artery
 * @param keystore   PKCS12 file with the node's private key and certificate chain
 * @param truststore PKCS12 file with the trusted CA certificates
 * @param password   password of both stores and of the key
 */
public record TlsSettings(boolean enabled, Path keystore, Path truststore, String password) {

    public static final String PATH = "tandem.tls";
    /** File names of a development set made by {@code tandem tls dev}. */
    public static final String KEYSTORE_FILE = "node.p12";
    public static final String TRUSTSTORE_FILE = "truststore.p12";
    public static final String PASSWORD_FILE = "password";
    public static final String CA_CERT_FILE = "ca.pem";
    /** TLS 1.3 only, its AEAD suites: nothing older needs to talk to a Tandem node. */
    static final String PROTOCOL = "TLSv1.3";
    static final List<String> CIPHER_SUITES = List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256");

    public static final TlsSettings OFF = new TlsSettings(false, Path.of(""), Path.of(""), "");

    public static TlsSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        if (!c.getBoolean("enabled")) return OFF;
        String keystore = c.getString("keystore");
        String truststore = c.getString("truststore");
        if (keystore.isBlank() || truststore.isBlank()) {
            throw new IllegalArgumentException("tandem.tls is enabled but tandem.tls.keystore or tandem.tls.truststore is not set "
                    + "(make a development set with 'tandem tls dev' and pass --tls DIR)");
        }
        String passwordFile = c.getString("password-file");
        String password = passwordFile.isBlank() ? c.getString("password") : readPassword(Path.of(passwordFile));
        TlsSettings settings = new TlsSettings(true, Path.of(keystore), Path.of(truststore), password);
        for (Path p : List.of(settings.keystore, settings.truststore)) {
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("TLS store " + p + " does not exist (tandem.tls)");
        }
        return settings;
    }

    /** The overrides that switch TLS on with the stores of a directory made by {@code tandem tls dev}. */
    public static Map<String, Object> directoryOverrides(Path dir) {
        Path d = dir.toAbsolutePath();
        return Map.of(PATH + ".enabled", true,
                PATH + ".keystore", d.resolve(KEYSTORE_FILE).toString(),
                PATH + ".truststore", d.resolve(TRUSTSTORE_FILE).toString(),
                PATH + ".password-file", d.resolve(PASSWORD_FILE).toString());
    }

    private static String readPassword(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the TLS password file " + file + " (tandem.tls.password-file): "
                    + e.getMessage(), e);
        }
    }

    /** The server side of the gRPC endpoint: this node's key, peers checked against the truststore. */
    public SSLContext serverContext() {
        try {
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(load(keystore), password.toCharArray());
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(load(truststore));
            SSLContext context = SSLContext.getInstance(PROTOCOL);
            context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot use the TLS stores " + keystore + " and " + truststore + ": " + e.getMessage(), e);
        }
    }

    private KeyStore load(Path file) throws GeneralSecurityException, IOException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            store.load(in, password.toCharArray());
        }
        return store;
    }

    /** Artery over TLS with mutual authentication (Akka's config-based SSL engine), or nothing when off. */
    public Config arteryConfig() {
        if (!enabled) return ConfigFactory.empty();
        String engine = "akka.remote.artery.ssl.config-ssl-engine.";
        return ConfigFactory.empty()
                .withValue("akka.remote.artery.transport", ConfigValueFactory.fromAnyRef("tls-tcp"))
                .withValue("akka.remote.artery.ssl.ssl-engine-provider",
                        ConfigValueFactory.fromAnyRef("akka.remote.artery.tcp.ConfigSSLEngineProvider"))
                .withValue(engine + "key-store", ConfigValueFactory.fromAnyRef(keystore.toAbsolutePath().toString()))
                .withValue(engine + "trust-store", ConfigValueFactory.fromAnyRef(truststore.toAbsolutePath().toString()))
                .withValue(engine + "key-store-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(engine + "key-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(engine + "trust-store-password", ConfigValueFactory.fromAnyRef(password))
                .withValue(engine + "protocol", ConfigValueFactory.fromAnyRef(PROTOCOL))
                .withValue(engine + "enabled-algorithms", ConfigValueFactory.fromIterable(CIPHER_SUITES))
                // The gate is the CA: both sides must present a certificate it signed. Host names are
                // not checked, so that one development certificate serves every node address.
                .withValue(engine + "require-mutual-authentication", ConfigValueFactory.fromAnyRef(true))
                .withValue(engine + "hostname-verification", ConfigValueFactory.fromAnyRef(false));
    }

    @Override
    public String toString() {
        return enabled ? "TlsSettings[keystore=" + keystore + ", truststore=" + truststore + "]" : "TlsSettings[off]";
    }
}
