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
     * Vector API, native access for FFM, Arrow's reflective access to java.nio, Unsafe memory access (as bin/tandem).
     */
    static final List<String> TANDEM_JVM_FLAGS = List.of(
            "--add-modules", "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED",
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow",
            "-Xss4m");

    /** Environment variable that replaces the collector flags, here and in bin/tandem. */
    static final String GC_OPTS_ENV = "TANDEM_GC_OPTS";

    /**
     * G1 with a 50 ms pause goal, unless {@code TANDEM_GC_OPTS} says otherwise (as bin/tandem). On a 2-core host every
     * collector thread takes a core from the forward passes, whose two compute threads meet at a barrier several
     * times per layer. Measured against the Z collector used before (`bench cluster`, alternating runs): the
     * in-process engine in the benchmark's JVM 405-471 against 240-267 tok/s, single stream through the cluster
     * 189-216 against 148-179, 16 streams 744-862 against 676-750; `bench osd` p99 with the trainer on / off 452 / 516
     * ms (0.88), as under Z (474 / 481). The parallel collector, before Z, paused for 100-700 ms (young) and ~1 s
     * (full) and set the p99 of `bench osd`.
     */
    static final List<String> DEFAULT_GC_FLAGS = List.of("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=50");

    static List<String> gcFlags() {
        String custom = System.getenv(GC_OPTS_ENV);
        return custom == null || custom.isBlank() ? DEFAULT_GC_FLAGS : List.of(custom.trim().split("\\s+"));
    }

    static final String MAIN_CLASS = TandemCommand.class.getName();

    private JavaCommand() {}

    /** {@code java <flags> -cp <this class path> dev.tandem.ops.TandemCommand <arguments>}. */
    static List<String> tandem(List<String> arguments) {
        List<String> command = new ArrayList<>();
        command.add(javaExecutable());
        command.addAll(TANDEM_JVM_FLAGS);
        command.addAll(gcFlags());
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
