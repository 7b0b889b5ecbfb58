package dev.tandem.ops;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.NoBenchmarksException;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = {"JMH benchmarks of the kernels, one thread each, on random weights of",
                "stories15M's shapes: the packed float32 product (the output head and a",
                "feed-forward matrix, times 1, 5 and 16 rows), the greedy screen of the head",
                "(1 and 5 rows), and one online distillation step of the default draft.",
                "Runs in a forked JVM; JMH's report goes to stderr, the summary to stdout."})
public final class KernelBenchCommand implements Callable<Integer> {

    /** The benchmark classes, in package dev.tandem.ops.kernels. */
    private static final String PACKAGE = "dev.tandem.ops.kernels.";

    @Option(names = "--include", paramLabel = "REGEX",
            description = "Only the benchmarks whose name matches (default: all), e.g. PackedMatmul.")
    String include = ".*";

    @Option(names = "--quick", description = "Shorter warm-up and measurement (2 + 3 iterations of 0.5 s) for a quick look.")
    boolean quick;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Override
    public Integer call() {
        try {
            java.util.regex.Pattern.compile(include);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw CommandFailure.usage("--include is not a regular expression: " + e.getDescription());
        }
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(PACKAGE + ".*" + include + ".*")
                .forks(1)
                .threads(1)
                .warmupIterations(quick ? 2 : 5)
                .warmupTime(TimeValue.milliseconds(quick ? 500 : 1000))
                .measurementIterations(quick ? 3 : 5)
                .measurementTime(TimeValue.milliseconds(quick ? 500 : 1000))
                .jvmArgs("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                        "--add-opens=java.base/java.nio=ALL-UNNAMED", "-XX:+UseG1GC", "-Xmx2g");
        Collection<RunResult> results;
        try {
            results = new Runner(options.build(), OutputFormatFactory.createFormatInstance(System.err, VerboseMode.NORMAL)).run();
        } catch (NoBenchmarksException e) {
            throw CommandFailure.usage("no benchmark matches --include " + include
                    + " (PackedMatmulBenchmark, GreedyScreenBenchmark, DistillerStepJmh)");
        } catch (RunnerException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new CommandFailure("the benchmarks failed: " + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName()),
                    CommandFailure.FAILED);
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RunResult r : results) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("benchmark", r.getParams().getBenchmark().substring(PACKAGE.length()));
            Map<String, Object> params = new LinkedHashMap<>();
            for (String key : r.getParams().getParamsKeys()) params.put(key, r.getParams().getParam(key));
            row.put("params", params);
            row.put("score", r.getPrimaryResult().getScore());
            row.put("error", r.getPrimaryResult().getScoreError());
            row.put("unit", r.getPrimaryResult().getScoreUnit());
            rows.add(row);
        }
        if (json) {
            System.out.println(Json.write(Map.of("benchmarks", rows)));
        } else {
            for (Map<String, Object> row : rows) {
                System.out.printf(java.util.Locale.ROOT, "%-40s %-28s %10.3f ± %.3f %s%n", row.get("benchmark"), row.get("params"),
                        (Double) row.get("score"), (Double) row.get("error"), row.get("unit"));
            }
        }
        return 0;
    }
}
