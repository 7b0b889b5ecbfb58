package dev.tandem.engine.bench;

import dev.tandem.engine.json.JsonText;

import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Medians measured by {@link EngineBenchmark}; the ratios are medians of ratios within a round of measurements.
 *
 * @param decodeTokS      single-stream greedy decode, tokens per second
 * @param prefillTokS     prompt tokens per second when a whole prompt goes through one forward
 * @param verifyCostRatio time of one forward of k tokens of one sequence over the time of one token, by k
 * @param batch4TokS      aggregate decode tokens per second with 4 sequences in one batched forward per step
 * @param batch16TokS     the same with 16 sequences
 * @param batch4VsSingle  4-sequence throughput over single-stream decode
 * @param batch16VsSingle 16-sequence throughput over single-stream decode
 * @param threads         threads of the parallel runner
 * @param model           name of the benchmarked model
 */
public record EngineBenchmarkResult(double decodeTokS, double prefillTokS, SortedMap<Integer, Double> verifyCostRatio,
                                    double batch4TokS, double batch16TokS, double batch4VsSingle, double batch16VsSingle,
                                    int threads, String model) {

    public EngineBenchmarkResult {
        verifyCostRatio = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(verifyCostRatio));
    }

    /** One JSON object, keys as documented by the benchmark command. */
    public String toJson() {
        StringBuilder ratios = new StringBuilder("{");
        for (Map.Entry<Integer, Double> e : verifyCostRatio.entrySet()) {
            if (ratios.length() > 1) ratios.append(", ");
            ratios.append('"').append(e.getKey()).append("\": ").append(JsonText.number(e.getValue(), 3));
        }
        ratios.append('}');
        return "{\"decode_tok_s\": " + JsonText.number(decodeTokS, 1)
                + ", \"prefill_tok_s\": " + JsonText.number(prefillTokS, 1)
                + ", \"verify_cost_ratio\": " + ratios
                + ", \"batch4_tok_s\": " + JsonText.number(batch4TokS, 1)
                + ", \"batch16_tok_s\": " + JsonText.number(batch16TokS, 1)
                + ", \"batch4_vs_single\": " + JsonText.number(batch4VsSingle, 3)
                + ", \"batch16_vs_single\": " + JsonText.number(batch16VsSingle, 3)
                + ", \"threads\": " + threads
                + ", \"model\": " + JsonText.quote(model) + "}";
    }

    public String toText() {
        StringBuilder s = new StringBuilder();
        s.append("engine benchmark: ").append(model).append(", ").append(threads).append(" thread(s), medians (ratios: medians of ratios within a round)\n");
        s.append(String.format(Locale.ROOT, "  decode (1 stream)     %10.1f tok/s%n", decodeTokS));
        s.append(String.format(Locale.ROOT, "  prefill (1 forward)   %10.1f tok/s%n", prefillTokS));
        s.append(String.format(Locale.ROOT, "  decode, 4 streams     %10.1f tok/s (%.2fx one stream)%n", batch4TokS, batch4VsSingle));
        s.append(String.format(Locale.ROOT, "  decode, 16 streams    %10.1f tok/s (%.2fx one stream)%n", batch16TokS, batch16VsSingle));
        s.append("  verify k tokens / 1 token:");
        for (Map.Entry<Integer, Double> e : verifyCostRatio.entrySet()) {
            s.append(String.format(Locale.ROOT, "  k=%d %.2fx", e.getKey(), e.getValue()));
        }
        return s.append('\n').toString();
    }
}
