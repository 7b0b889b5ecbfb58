package dev.tandem.ops;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Groups the benchmarks; each prints numbers measured in one run (medians, ratios). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks that print numbers measured in one run (medians and ratios).",
        subcommands = {EngineBenchCommand.class, SpecBenchCommand.class, BenchClusterCommand.class, LoadBenchCommand.class, OsdBenchCommand.class, KernelBenchCommand.class})
public final class BenchCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }
}
