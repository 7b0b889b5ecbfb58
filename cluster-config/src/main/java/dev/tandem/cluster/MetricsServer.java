package dev.tandem.cluster;

import akka.actor.typed.ActorSystem;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpRequest;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCodes;
import dev.tandem.protocol.activation.ArrowMemory;
import dev.tandem.protocol.metrics.MetricsRegistry;
import dev.tandem.protocol.metrics.NodeMetrics;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * {@code GET /metrics} of a node: its {@link NodeMetrics} registry in Prometheus text, plus JVM and process
 * gauges registered here ({@code tandem_jvm_heap_used_bytes}, {@code tandem_process_resident_bytes}) and the
 * off-heap bytes of Arrow buffers ({@code tandem_arrow_allocated_bytes}).
 */
public final class MetricsServer {

    public static final String PATH = "/metrics";
    private static final Path PROC_STATUS = Path.of("/proc/self/status");
    private static final ContentType CONTENT_TYPE = ContentTypes.parse(MetricsRegistry.CONTENT_TYPE);

    private MetricsServer() {}

    /** Registers the JVM gauges (once per node) and binds {@code host:port} (0 = any free port). */
    public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, String host, int port) {
        MetricsRegistry registry = NodeMetrics.of(system);
        registerJvmGauges(registry);
        registerArrowGauge(registry, system);
        return Http.get(system).newServerAt(host, port).bindSync((HttpRequest request) -> {
            if (!request.getUri().path().equals(PATH)) {
                return HttpResponse.create().withStatus(StatusCodes.NOT_FOUND).withEntity("try GET " + PATH + "\n");
            }
            return HttpResponse.create().withEntity(HttpEntities.create(CONTENT_TYPE, registry.scrape().getBytes(StandardCharsets.UTF_8)));
        }).thenApply(binding -> binding.addToCoordinatedShutdown(Duration.ofSeconds(2), system));
    }

    static void registerJvmGauges(MetricsRegistry registry) {
        var memory = ManagementFactory.getMemoryMXBean();
        registry.gauge("tandem_jvm_heap_used_bytes", "JVM heap in use").track(() -> memory.getHeapMemoryUsage().getUsed());
        registry.gauge("tandem_jvm_heap_max_bytes", "JVM heap limit").track(() -> memory.getHeapMemoryUsage().getMax());
        registry.gauge("tandem_jvm_threads", "live JVM threads")
                .track(() -> ManagementFactory.getThreadMXBean().getThreadCount());
        if (Files.isReadable(PROC_STATUS)) {
            registry.gauge("tandem_process_resident_bytes", "resident set size of the node's process (VmRSS)")
                    .track(MetricsServer::residentBytes);
        }
    }

    /** Off-heap bytes Arrow holds for activations in flight; constant under steady load unless buffers leak. */
    static void registerArrowGauge(MetricsRegistry registry, ActorSystem<?> system) {
        var allocator = ArrowMemory.get(system).allocator();
        registry.gauge("tandem_arrow_allocated_bytes", "off-heap bytes held by Arrow buffers (activations)")
                .track(allocator::getAllocatedMemory);
    }

    static double residentBytes() {
        try {
            for (String line : Files.readAllLines(PROC_STATUS, StandardCharsets.UTF_8)) {
                if (line.startsWith("VmRSS:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024.0; // kB
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux after all: report 0
        }
        return 0;
    }
}
