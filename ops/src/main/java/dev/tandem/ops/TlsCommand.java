package dev.tandem.ops;

import dev.tandem.cluster.TlsSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** TLS material for a cluster. */
@Command(name = "tls", mixinStandardHelpOptions = true,
        description = "TLS material for the gRPC endpoint and Artery between nodes.",
        subcommands = {TlsCommand.Dev.class})
public final class TlsCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    @Command(name = "dev", mixinStandardHelpOptions = true,
            description = {"Make a self-signed development set: a CA, a node keystore it signed and a truststore.",
                    "",
                    "Files: ca.p12 (the CA key: keep it to yourself), ca.pem (what clients trust), node.p12 (the key "
                            + "and certificate of every node and of the gRPC endpoint, valid for localhost, 127.0.0.1 and "
                            + "each --name), truststore.p12 (the CA, for Artery's mutual authentication), password "
                            + "(of the stores, mode 600). A node started with another set's certificate cannot join. "
                            + "Runs the JDK's keytool. For development only."})
    static final class Dev implements Callable<Integer> {

        @Option(names = "--out", paramLabel = "DIR", description = "Where to write the set. Default: $TANDEM_HOME/tls.")
        Path out;

        @Option(names = "--name", paramLabel = "HOST", description = "Another DNS name or IP address of the node certificate (repeatable).")
        List<String> names = List.of();

        @Override
        public Integer call() throws InterruptedException {
            Path dir = (out != null ? out : ClientSecurity.defaultTlsDir()).toAbsolutePath();
            DevTlsSet.create(dir, names);
            String tlsArg = out != null ? " " + dir : "";
            System.out.println("tandem: development TLS set written to " + dir);
            System.out.println("  servers:  tandem serve --tls " + dir + "   (also: tandem node --tls DIR, tandem cluster up --tls DIR)");
            System.out.println("  clients:  tandem generate --target 127.0.0.1:50051 --tls" + tlsArg + " --prompt \"Once upon a time\"");
            System.out.println("            tandem ctl status --tls" + tlsArg);
            System.out.println("            grpcurl -cacert " + dir.resolve(TlsSettings.CA_CERT_FILE) + " 127.0.0.1:50051 list");
            System.out.println("  config:   tandem.tls { enabled = on, keystore = \"" + dir.resolve(TlsSettings.KEYSTORE_FILE)
                    + "\", truststore = \"" + dir.resolve(TlsSettings.TRUSTSTORE_FILE) + "\", password-file = \""
                    + dir.resolve(TlsSettings.PASSWORD_FILE) + "\" }");
            return 0;
        }
    }
}
