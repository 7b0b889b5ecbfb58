package dev.tandem.ops;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tandem} command. Each subcommand lives in its own class; this one only wires them and
 * turns failures into one-line messages with exit codes (never a stack trace for bad input).
 */
@Command(name = "tandem",
        mixinStandardHelpOptions = true,
        versionProvider = TandemVersion.class,
        description = {
                "Tandem: a distributed LLM serving cluster with lossless speculative decoding.",
                "",
                "Start with 'tandem demo'. The default model (stories15M) is fetched on first use",
                "into $TANDEM_HOME/models (default ~/.cache/tandem/models)."
        },
        subcommands = {
                DemoCommand.class,
                GenerateCommand.class,
                ServeCommand.class,
                ClusterCommand.class,
                NodeCommand.class,
                CtlCommand.class,
                TlsCommand.class,
                ModelCommand.class,
                BenchCommand.class,
                DraftCommand.class,
                CommandLine.HelpCommand.class
        },
        footer = {
                "",
                "Exit codes: 0 success, 1 failure (bad model file, bad input, unreachable server), 2 usage error."
        })
public final class TandemCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by {@link #main} and tests. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new TandemCommand());
        cli.setExecutionExceptionHandler(new FailureHandler());
        return cli;
    }
}
