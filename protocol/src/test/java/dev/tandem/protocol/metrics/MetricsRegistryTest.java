package dev.tandem.protocol.metrics;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsRegistryTest {

    @Test
    void scrapeParsesBackWithEveryValue() {
        MetricsRegistry r = new MetricsRegistry();
        r.counter("tandem_requests_total", "Requests.", "model", "status").labels("stories15M", "ok").inc(3);
        r.gauge("tandem_kv_bytes", "KV bytes.", "stage").track(() -> 4096, "0-3");
        Histogram h = r.histogram("tandem_ttft_ms", "Time to first token.", new double[]{1, 10, 100}, "model");
        h.labels("m\"x").observe(0.5);
        h.labels("m\"x").observe(50);
        h.labels("m\"x").observe(500);

        PrometheusText.Exposition e = PrometheusText.parse(r.scrape());
        assertEquals(MetricType.COUNTER, e.types().get("tandem_requests_total"));
        assertEquals(3, e.sum("tandem_requests_total", Map.of("status", "ok")));
        assertEquals(4096, e.sum("tandem_kv_bytes", Map.of("stage", "0-3")));
        assertEquals(1, e.sum("tandem_ttft_ms_bucket", Map.of("le", "1", "model", "m\"x")));
        assertEquals(2, e.sum("tandem_ttft_ms_bucket", Map.of("le", "100")));
        assertEquals(3, e.sum("tandem_ttft_ms_bucket", Map.of("le", "+Inf")));
        assertEquals(3, e.sum("tandem_ttft_ms_count", Map.of()));
        assertEquals(550.5, e.sum("tandem_ttft_ms_sum", Map.of()));
    }

    @Test
    void sameShapeRegistersOnceAndOtherShapesAreRefused() {
        MetricsRegistry r = new MetricsRegistry();
        Counter a = r.counter("x_total", "X.", "a");
        assertSame(a, r.counter("x_total", "X.", "a"));
        assertThrows(IllegalArgumentException.class, () -> r.gauge("x_total", "X.", "a"));
        assertThrows(IllegalArgumentException.class, () -> r.counter("x_total", "X.", "b"));
        assertThrows(IllegalArgumentException.class, () -> r.counter("bad-name", "X."));
        assertThrows(IllegalArgumentException.class, () -> r.histogram("h", "H.", new double[]{2, 1}));
        assertThrows(IllegalArgumentException.class, () -> a.labels("1", "2"));
        assertThrows(IllegalArgumentException.class, () -> a.labels("1").inc(-1));
    }

    @Test
    void parserRejectsMalformedText() {
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("undeclared 1\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE a counter\na{b=1} 1\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE a counter\na one\n"));
        assertThrows(IllegalArgumentException.class, () -> PrometheusText.parse("# TYPE a summary\n"));
    }

    @Test
    void countersAreExactUnderConcurrency() throws InterruptedException {
        MetricsRegistry r = new MetricsRegistry();
        Counter.Child c = r.counter("n_total", "N.", "k").labels("v");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        for (int t = 0; t < 4; t++) pool.submit(() -> { for (int i = 0; i < 10_000; i++) c.inc(); });
        pool.shutdown();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        assertEquals(40_000, r.counter("n_total", "N.", "k").value("v"));
    }
}
