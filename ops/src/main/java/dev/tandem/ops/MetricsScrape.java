package dev.tandem.ops;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/**
 * Reads a histogram's totals (its {@code _sum} and {@code _count} over all label sets) from nodes' Prometheus
 * endpoints, so a benchmark can report a mean over the interval between two scrapes.
 */
final class MetricsScrape {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    /** Sum and count of a histogram; the mean over an interval is the difference of two totals. */
    record Totals(double sum, double count) {
        Totals minus(Totals earlier) { return new Totals(sum - earlier.sum, count - earlier.count); }

        double mean() { return count > 0 ? sum / count : Double.NaN; }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

    /** The histogram's totals summed over the given endpoints; an endpoint that cannot be read counts as empty. */
    Totals histogram(List<String> urls, String name) {
        double sum = 0;
        double count = 0;
        for (String url : urls) {
            String text = get(url);
            for (String line : text.split("\n")) {
                if (line.startsWith(name + "_sum")) sum += value(line);
                else if (line.startsWith(name + "_count")) count += value(line);
            }
        }
        return new Totals(sum, count);
    }

    private String get(String url) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static double value(String line) {
        try {
            return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
