package dev.tandem.engine.bench;

import dev.tandem.engine.json.JsonText;

import java.util.List;
import java.util.Locale;

/**
 * What {@link SpeculationBenchmark} measured: one row per (proposer, mode, streams).
 *
 * @param rows      the measurements
 * @param model     benchmarked model
 * @param draft     how the draft model was obtained (a checkpoint path, or a description)
 * @param threads   threads of the parallel runner
 * @param requests  requests per configuration
 * @param newTokens max new tokens per request
 */
public record SpeculationBenchmarkResult(List<Row> rows, String model, String draft, int threads, int requests, int newTokens) {

    /**
     * @param acceptance    accepted over proposed draft tokens
     * @param tokensPerStep tokens output per target forward, per sequence
     * @param tokS          aggregate generated tokens per second over the configuration's wall time
     * @param speedup       tokS over that of {@code none} with the same mode and streams in the same run
     * @param lossless      every greedy output equals {@code none}'s (null when none did not run)
     */
    public record Row(String proposer, String mode, int streams, double acceptance, double tokensPerStep, double tokS,
                      double speedup, Boolean lossless) {}

    public SpeculationBenchmarkResult {
        rows = List.copyOf(rows);
    }

    public String toJson() {
        StringBuilder s = new StringBuilder("{\"results\": [");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (i > 0) s.append(", ");
            s.append("{\"proposer\": \"").append(r.proposer()).append('"')
                    .append(", \"mode\": \"").append(r.mode()).append('"')
                    .append(", \"streams\": ").append(r.streams())
                    .append(", \"acceptance\": ").append(JsonText.number(r.acceptance(), 3))
                    .append(", \"tokens_per_step\": ").append(JsonText.number(r.tokensPerStep(), 3))
                    .append(", \"tok_s\": ").append(JsonText.number(r.tokS(), 1))
                    .append(", \"speedup\": ").append(JsonText.number(r.speedup(), 3))
                    .append(", \"lossless\": ").append(r.lossless() == null ? "null" : r.lossless().toString())
                    .append('}');
        }
        return s.append("], \"model\": ").append(JsonText.quote(model))
                .append(", \"draft\": ").append(JsonText.quote(draft))
                .append(", \"threads\": ").append(threads)
                .append(", \"requests\": ").append(requests)
                .append(", \"new_tokens\": ").append(newTokens)
                .append('}').toString();
    }

    public String toText() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "speculation benchmark: %s, %d thread(s), %d requests x %d new tokens, greedy; draft: %s%n",
                model, threads, requests, newTokens, draft));
        s.append(String.format(Locale.ROOT, "  %-10s %-7s %7s %10s %11s %9s %8s %9s%n",
                "proposer", "mode", "streams", "acceptance", "tok/step", "tok/s", "speedup", "lossless"));
        for (Row r : rows) {
            s.append(String.format(Locale.ROOT, "  %-10s %-7s %7d %10.3f %11.2f %9.1f %7.2fx %9s%n", r.proposer(), r.mode(), r.streams(),
                    r.acceptance(), r.tokensPerStep(), r.tokS(), r.speedup(), r.lossless() == null ? "-" : r.lossless() ? "yes" : "NO"));
        }
        return s.toString();
    }
}
