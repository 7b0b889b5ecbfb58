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
     * The Z collector with a soft heap bound, unless {@code TANDEM_GC_OPTS} says otherwise (as bin/tandem). Z collects
     * concurrently, so a serving node's latency no longer carries stop-the-world pauses: with the parallel collector,
     * young pauses of 100-700 ms and full collections of ~1 s set the p99 of `bench osd`. Its price is on the step
     * path, which allocates per message: `bench cluster` measured 2.6-3.1 ms of transport per step under Z against
     * 1.9-2.2 ms under the parallel collector. The soft bound makes Z collect before the heap grows far past the live
     * set (by default it let a 0.8 GB live set grow to 3.5 GB), which would hide a real leak in resident memory.
     */
    static final List<String> DEFAULT_GC_FLAGS = List.of("-XX:+UseZGC", "-XX:SoftMaxHeapSize=2g");

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
