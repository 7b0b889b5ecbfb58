package dev.tandem.ops;

import dev.tandem.cluster.TlsSettings;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The security options of commands that start nodes: TLS from a development set, client tokens. */
public final class ServerSecurity {

    static final String TOKENS_FILE_KEY = "tandem.gateway.client-auth.tokens-file";

    @Option(names = "--tls", arity = "0..1", fallbackValue = "", paramLabel = "DIR",
            description = "TLS on the gRPC endpoint and on Artery between nodes (mutual authentication), with the set "
                    + "made by 'tandem tls dev' in DIR (default $TANDEM_HOME/tls). Default: plain text.")
    String tls;

    @Option(names = "--client-tokens", paramLabel = "FILE",
            description = "Inference calls must carry one of the tokens in FILE (one per line) as "
                    + "'authorization: Bearer <token>'. Default: Inference is open.")
    Path clientTokens;

    /** The development set's directory, when TLS is on. */
    Optional<Path> tlsDir() {
        if (tls == null) return Optional.empty();
        Path dir = (tls.isEmpty() ? ClientSecurity.defaultTlsDir() : Path.of(tls)).toAbsolutePath();
        if (!Files.isRegularFile(dir.resolve(TlsSettings.KEYSTORE_FILE))) {
            throw CommandFailure.usage("--tls: " + dir + " holds no " + TlsSettings.KEYSTORE_FILE + " (make one with 'tandem tls dev --out " + dir + "')");
        }
        return Optional.of(dir);
    }

    Optional<Path> clientTokensFile() {
        if (clientTokens == null) return Optional.empty();
        if (!Files.isRegularFile(clientTokens)) throw CommandFailure.usage("--client-tokens: no file " + clientTokens);
        return Optional.of(clientTokens.toAbsolutePath());
    }

    /** Configuration overrides for a node started in this JVM. */
    Map<String, Object> overrides() {
        Map<String, Object> m = new LinkedHashMap<>();
        tlsDir().ifPresent(dir -> m.putAll(TlsSettings.directoryOverrides(dir)));
        clientTokensFile().ifPresent(f -> m.put(TOKENS_FILE_KEY, f.toString()));
        return m;
    }

    /** Arguments of 'tandem node' for a node started as a process. */
    List<String> nodeArgs() {
        List<String> args = new ArrayList<>();
        tlsDir().ifPresent(dir -> args.addAll(List.of("--tls", dir.toString())));
        clientTokensFile().ifPresent(f -> args.addAll(List.of("--client-tokens", f.toString())));
        return args;
    }

    /** How this command's own probes reach the endpoint (Health needs no client token). */
    ClientSecurity probe() {
        return new ClientSecurity(tlsDir().map(d -> d.resolve(TlsSettings.CA_CERT_FILE)), Optional.empty());
    }
}
