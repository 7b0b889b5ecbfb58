package dev.tandem.engine.jit;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM whose optimizing compiler must give up (a node limit far too small for the packed kernels) logs which of
 * Tandem's methods it could not compile, and why.
 */
class JitFailureLogTest {

    private static final long DEADLINE_SECONDS = 60;

    @Test
    void aFailedCompilationOfAKernelIsLoggedWithTheMethodAndTheReason() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-XX:MaxNodeLimit=3000", "-XX:NodeLimitFudgeFactor=600",
                "-cp", System.getProperty("java.class.path"), JitFailureLogChild.class.getName()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        // Lines reach a queue from a reader thread, so a child that prints nothing cannot hang the test.
        BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) queue.add(line);
            } catch (IOException e) {
                queue.add("reading the child failed: " + e);
            }
        });
        List<String> lines = new ArrayList<>();
        String warning = null;
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
            while (warning == null && System.nanoTime() < end) {
                String line = queue.poll(end - System.nanoTime(), TimeUnit.NANOSECONDS);
                if (line == null) break;
                lines.add(line);
                if (line.contains("the JIT could not compile dev.tandem.engine.tensor.PackedF32Matrix")) warning = line;
            }
        } finally {
            child.destroyForcibly().waitFor();
            reader.join();
        }
        assertTrue(warning != null, "no warning about the packed kernels; the child printed: " + lines);
        assertTrue(warning.contains("WARN") && warning.contains("out of nodes"), warning);
    }
}
