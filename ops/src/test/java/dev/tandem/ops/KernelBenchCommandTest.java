package dev.tandem.ops;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tandem bench kernels: the JMH benchmarks are generated into the build and run in a forked JVM. */
class KernelBenchCommandTest {

    @Test
    void aBenchmarkRunsInAForkedJvmAndReportsJson() {
        CliRun run = CliRun.of("bench", "kernels", "--quick", "--include", "DistillerStep", "--json");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("\"benchmark\": \"DistillerStepJmh.step\""), run.out());
        assertTrue(run.out().contains("\"unit\": \"ms/op\""), run.out());
        assertFalse(run.out().contains("PackedMatmul"), "only the benchmark asked for: " + run.out());
    }

    @Test
    void anIncludeThatMatchesNothingOrIsNoRegexIsAUsageError() {
        CliRun none = CliRun.of("bench", "kernels", "--include", "NoSuchKernel");
        assertEquals(2, none.exitCode(), none.err());
        assertTrue(none.err().startsWith("tandem: error: no benchmark matches --include NoSuchKernel"), none.err());
        CliRun bad = CliRun.of("bench", "kernels", "--include", "(");
        assertEquals(2, bad.exitCode(), bad.err());
        assertTrue(bad.err().startsWith("tandem: error: --include is not a regular expression"), bad.err());
        assertFalse(bad.err().contains("Exception"), bad.err());
    }
}
