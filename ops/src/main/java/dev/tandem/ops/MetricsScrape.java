package dev.tandem.ops;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    /**
     * The histogram's totals per value of one label (e.g. a stage's {@code layers}), summed over the endpoints and the
     * other labels; series without the label are left out.
     */
    Map<String, Totals> histogramByLabel(List<String> urls, String name, String label) {
        Pattern labelValue = Pattern.compile("[{,]" + Pattern.quote(label) + "=\"([^\"]*)\"");
        Map<String, double[]> totals = new TreeMap<>();
        for (String url : urls) {
            for (String line : get(url).split("\n")) {
                boolean sum = line.startsWith(name + "_sum{");
                if (!sum && !line.startsWith(name + "_count{")) continue;
                Matcher m = labelValue.matcher(line);
                if (!m.find()) continue;
                totals.computeIfAbsent(m.group(1), k -> new double[2])[sum ? 0 : 1] += value(line);
            }
        }
        Map<String, Totals> out = new TreeMap<>();
        totals.forEach((k, v) -> out.put(k, new Totals(v[0], v[1])));
        return out;
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
