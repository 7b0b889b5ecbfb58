package dev.tandem.ops;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Groups the draft-model commands (online distillation's offline side). */
@Command(name = "draft", mixinStandardHelpOptions = true,
        description = "Draft models for speculative decoding: bootstrap one from the target.",
        subcommands = {DraftBootstrapCommand.class})
public final class DraftCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }
}
