package dev.tandem.ops;

import picocli.CommandLine.Option;

/** The --tls option of commands that connect to a server. */
public final class TlsClientOption {

    @Option(names = "--tls", arity = "0..1", fallbackValue = "", paramLabel = "DIR|CA.pem",
            description = "Connect with TLS, trusting the CA of a development set (a directory made by 'tandem tls dev', "
                    + "default $TANDEM_HOME/tls) or a CA certificate in PEM. Default: plain text.")
    String tls;
}
