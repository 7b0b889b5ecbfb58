package dev.tandem.ops;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OtherTandemProcessesTest {

    private static final String JAVA = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java --add-modules jdk.incubator.vector -cp /x/tandem-ops.jar ";

    private static OtherTandemProcesses.Process process(long pid, String command) {
        return new OtherTandemProcesses.Process(pid, command);
    }

    @Test
    void nodesServersBenchmarksAndDemosOfOtherProcessesCountButNotThisOneNorOtherCommands() {
        OtherTandemProcesses.Process node = process(11, JAVA + JavaCommand.MAIN_CLASS + " node --roles worker --port 0");
        OtherTandemProcesses.Process serve = process(12, JAVA + JavaCommand.MAIN_CLASS + " serve --workers 2");
        OtherTandemProcesses.Process self = process(13, JAVA + JavaCommand.MAIN_CLASS + " bench engine");
        OtherTandemProcesses.Process generate = process(14, JAVA + JavaCommand.MAIN_CLASS + " generate --local --prompt x");
        OtherTandemProcesses.Process other = process(15, "/usr/bin/python3 -m http.server");
        OtherTandemProcesses.Process bench = process(16, JAVA + JavaCommand.MAIN_CLASS + " bench cluster --json");
        List<OtherTandemProcesses.Process> found = OtherTandemProcesses.among(Stream.of(node, serve, self, generate, other, bench), 13);
        assertEquals(List.of(node, serve, bench), found);
        Optional<String> warning = OtherTandemProcesses.warning(found);
        assertTrue(warning.isPresent());
        assertEquals("warning: 3 other Tandem processes run on this host (pid 11: tandem node, pid 12: tandem serve, "
                + "pid 16: tandem bench); they share its cores and skew what this benchmark measures", warning.get());
        assertEquals(Optional.empty(), OtherTandemProcesses.warning(List.of()));
    }

    @Test
    void aRealNodeProcessOnThisHostIsFound() throws Exception {
        // A JVM-free stand-in is enough: the check reads command lines, and this one carries the main class and "node"
        // (bash's positional parameters; two commands so that bash does not replace itself with sleep).
        Process sleeper = new ProcessBuilder("bash", "-c", "sleep 30; true", JavaCommand.MAIN_CLASS, "node").start();
        try {
            long pid = sleeper.pid();
            long deadline = System.nanoTime() + 5_000_000_000L;
            boolean seen = false;
            while (!seen && System.nanoTime() < deadline) {
                seen = OtherTandemProcesses.warning().map(w -> w.contains("pid " + pid + ": tandem node")).orElse(false);
                if (!seen) Thread.sleep(50);
            }
            assertTrue(seen, "the stand-in node (pid " + pid + ") was not reported: " + OtherTandemProcesses.warning());
        } finally {
            sleeper.destroyForcibly();
        }
    }
}
