package dev.tandem.engine.bench;

import org.junit.jupiter.api.Test;

import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineBenchmarkResultTest {

    @Test
    void jsonHasTheDocumentedKeys() {
        TreeMap<Integer, Double> ratios = new TreeMap<>();
        for (int k = 1; k <= 8; k++) ratios.put(k, 1.0 + 0.1 * (k - 1));
        EngineBenchmarkResult r = new EngineBenchmarkResult(731.25, 3100, ratios, 2000, 4000.5, 2.75, 5.4321, 2, "stories\"15M");
        assertEquals("{\"decode_tok_s\": 731.3, \"prefill_tok_s\": 3100.0, \"verify_cost_ratio\": {\"1\": 1.000, "
                + "\"2\": 1.100, \"3\": 1.200, \"4\": 1.300, \"5\": 1.400, \"6\": 1.500, \"7\": 1.600, \"8\": 1.700}, "
                + "\"batch4_tok_s\": 2000.0, \"batch16_tok_s\": 4000.5, \"batch4_vs_single\": 2.750, \"batch16_vs_single\": 5.432, \"threads\": 2, \"model\": \"stories\\\"15M\"}", r.toJson());
        assertTrue(r.toText().contains("731.3 tok/s"), r.toText());
    }
}
