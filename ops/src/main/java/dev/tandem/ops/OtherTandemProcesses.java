package dev.tandem.ops;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Other Tandem JVMs serving or benchmarking on this host. A benchmark prints a warning about them before it starts:
 * they share the host's cores and caches, and a forgotten `cluster up` next to a benchmark (its draft trainer busy
 * in the idle CPU class) skewed a session's `bench cluster` pairs for half an hour before anyone noticed.
 */
final class OtherTandemProcesses {

    /** A process as the check sees it. */
    record Process(long pid, String commandLine) {}

    /** Subcommands that keep a JVM busy with serving or measuring. */
    private static final Set<String> BUSY = Set.of("node", "serve", "bench", "demo");

    private OtherTandemProcesses() {}

    /** The Tandem processes among {@code processes} that serve or benchmark, other than {@code self}. */
    static List<Process> among(Stream<Process> processes, long self) {
        return processes.filter(p -> p.pid() != self)
                .filter(p -> subcommand(p).filter(BUSY::contains).isPresent()).toList();
    }

    /** The {@code tandem} subcommand a process runs, if it runs the Tandem command at all. */
    private static Optional<String> subcommand(Process p) {
        int at = p.commandLine().indexOf(JavaCommand.MAIN_CLASS);
        if (at < 0) return Optional.empty();
        String rest = p.commandLine().substring(at + JavaCommand.MAIN_CLASS.length()).trim();
        return rest.isEmpty() ? Optional.empty() : Optional.of(rest.split("\\s+")[0]);
    }

    /** The warning for this host's other Tandem processes, if any run. */
    static Optional<String> warning() {
        Stream<Process> all = ProcessHandle.allProcesses().flatMap(h -> h.info().commandLine().stream()
                .map(line -> new Process(h.pid(), line)));
        return warning(among(all, ProcessHandle.current().pid()));
    }

    static Optional<String> warning(List<Process> others) {
        if (others.isEmpty()) return Optional.empty();
        StringBuilder which = new StringBuilder();
        for (Process p : others) {
            if (!which.isEmpty()) which.append(", ");
            which.append("pid ").append(p.pid()).append(": tandem ").append(subcommand(p).orElse("?"));
        }
        return Optional.of("warning: " + others.size() + " other Tandem process" + (others.size() == 1 ? "" : "es")
                + (others.size() == 1 ? " runs" : " run") + " on this host (" + which + "); they share its cores and skew what this benchmark measures");
    }
}
