package dev.tandem.ops;

import dev.tandem.cluster.TlsSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A self-signed development set, made with the JDK's keytool: a CA (ca.p12, ca.pem), one node
 * keystore signed by it (node.p12: every node and the gRPC endpoint use it), a truststore holding the
 * CA (truststore.p12) and the stores' password (password, mode 600). Not for production: the CA key
 * lies next to the node key.
 */
final class DevTlsSet {

    static final String CA_STORE = "ca.p12";
    private static final String PASSWORD_ENV = "TANDEM_TLS_STORE_PASSWORD";
    private static final String VALIDITY_DAYS = "825";
    private static final int PASSWORD_BYTES = 18;

    private DevTlsSet() {}

    /**
     * Writes the set into {@code dir} (created if needed; refused if it already holds one).
     *
     * @param names extra DNS names or IP addresses the node certificate is valid for (beyond localhost and 127.0.0.1)
     */
    static void create(Path dir, List<String> names) throws InterruptedException {
        Path nodeStore = dir.resolve(TlsSettings.KEYSTORE_FILE);
        if (Files.exists(nodeStore) || Files.exists(dir.resolve(CA_STORE))) {
            throw CommandFailure.failed(dir + " already holds a development set; choose another --out or delete it");
        }
        byte[] random = new byte[PASSWORD_BYTES];
        new SecureRandom().nextBytes(random);
        String password = HexFormat.of().formatHex(random);
        try {
            Files.createDirectories(dir);
            Path passwordFile = dir.resolve(TlsSettings.PASSWORD_FILE);
            Files.writeString(passwordFile, password + "\n", StandardCharsets.UTF_8);
            ownerOnly(passwordFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write into " + dir, e);
        }
        String pass = "-storepass:env";
        String ca = dir.resolve(CA_STORE).toString();
        String caPem = dir.resolve(TlsSettings.CA_CERT_FILE).toString();
        String csr = dir.resolve("node.csr").toString();
        String nodePem = dir.resolve("node.pem").toString();
        String node = nodeStore.toString();
        String trust = dir.resolve(TlsSettings.TRUSTSTORE_FILE).toString();
        List<String> san = new ArrayList<>(List.of("dns:localhost", "ip:127.0.0.1"));
        for (String n : names) san.add((n.matches("[0-9.]+") || n.contains(":") ? "ip:" : "dns:") + n);

        keytool(password, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=Tandem development CA", "-ext", "bc:c", "-validity", VALIDITY_DAYS,
                "-keystore", ca, "-storetype", "PKCS12", pass, PASSWORD_ENV);
        keytool(password, "-exportcert", "-rfc", "-alias", "ca", "-keystore", ca, pass, PASSWORD_ENV, "-file", caPem);
        keytool(password, "-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=tandem-node", "-validity", VALIDITY_DAYS,
                "-keystore", node, "-storetype", "PKCS12", pass, PASSWORD_ENV);
        keytool(password, "-certreq", "-alias", "node", "-keystore", node, pass, PASSWORD_ENV, "-file", csr);
        // serverAuth for the gRPC endpoint, clientAuth because Artery authenticates both ends.
        keytool(password, "-gencert", "-alias", "ca", "-keystore", ca, pass, PASSWORD_ENV, "-infile", csr, "-outfile", nodePem,
                "-rfc", "-validity", VALIDITY_DAYS, "-ext", "SAN=" + String.join(",", san),
                "-ext", "KU=digitalSignature", "-ext", "EKU=serverAuth,clientAuth");
        keytool(password, "-importcert", "-noprompt", "-alias", "ca", "-keystore", node, pass, PASSWORD_ENV, "-file", caPem);
        keytool(password, "-importcert", "-noprompt", "-alias", "node", "-keystore", node, pass, PASSWORD_ENV, "-file", nodePem);
        keytool(password, "-importcert", "-noprompt", "-alias", "ca", "-keystore", trust, "-storetype", "PKCS12",
                pass, PASSWORD_ENV, "-file", caPem);
        try {
            Files.deleteIfExists(Path.of(csr));
            Files.deleteIfExists(Path.of(nodePem));
            for (String key : List.of(ca, node)) ownerOnly(Path.of(key)); // private keys
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean up " + dir, e);
        }
    }

    private static void ownerOnly(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // not a POSIX file system: the file keeps the default permissions
        }
    }

    private static void keytool(String password, String... args) throws InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put(PASSWORD_ENV, password); // never on a command line other users can read
        try {
            Process process = builder.start();
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (process.waitFor() != 0) {
                throw CommandFailure.failed("keytool " + args[0] + " failed: " + output);
            }
        } catch (IOException e) {
            throw CommandFailure.failed("cannot run keytool from " + command.getFirst() + ": " + e.getMessage());
        }
    }
}
