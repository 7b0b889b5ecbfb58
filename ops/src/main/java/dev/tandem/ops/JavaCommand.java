package dev.tandem.ops;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that runs the tandem command in a new JVM: the same java executable and class
 * path as this process, with the JVM flags every Tandem JVM needs (as bin/tandem passes them).
 */
final class JavaCommand {

    /**
     * Vector API, native access for FFM, Arrow's reflective access to java.nio, Unsafe memory access; the parallel
     * collector with a capped young generation (as bin/tandem): a serving node allocates quickly but keeps little,
     * and without the cap the collector's adaptive sizing grows the young generation (and the resident memory) for
     * minutes under load, which hides real leaks. The old generation and so the worker's memory budget stay unbounded.
     */
    static final List<String> TANDEM_JVM_FLAGS = List.of(
            "--add-modules", "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow",
            "-XX:+UseParallelGC",
            "-XX:MaxNewSize=256m",
            "-Xss4m");

    static final String MAIN_CLASS = TandemCommand.class.getName();

    private JavaCommand() {}

    /** {@code java <flags> -cp <this class path> dev.tandem.ops.TandemCommand <arguments>}. */
    static List<String> tandem(List<String> arguments) {
        List<String> command = new ArrayList<>();
        command.add(javaExecutable());
        command.addAll(TANDEM_JVM_FLAGS);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(MAIN_CLASS);
        command.addAll(arguments);
        return command;
    }

    static String javaExecutable() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }
}
