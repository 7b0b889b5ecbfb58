package dev.tandem.ops;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
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
        // (bash's positional parameters; a builtin last, so that bash does not replace itself with sleep). Its first
        // line says bash runs, so its command line is bash's and not yet the forked JVM's.
        Process sleeper = new ProcessBuilder("bash", "-c", "echo running; sleep 30; true", JavaCommand.MAIN_CLASS, "node").start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(sleeper.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("running", out.readLine());
            long pid = sleeper.pid();
            Optional<String> warning = OtherTandemProcesses.warning();
            assertTrue(warning.map(w -> w.contains("pid " + pid + ": tandem node")).orElse(false),
                    "the stand-in node (pid " + pid + ") was not reported: " + warning);
        } finally {
            sleeper.destroyForcibly();
        }
    }
}
