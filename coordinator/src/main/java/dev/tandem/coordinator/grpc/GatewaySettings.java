package dev.tandem.coordinator.grpc;

import com.typesafe.config.Config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Limits the gRPC gateway enforces before a request reaches the backend ({@code tandem.gateway}).
 *
 * @param maxPromptBytes       largest prompt, in bytes of UTF-8
 * @param maxStopStrings       most stop strings per request
 * @param maxStopStringBytes   longest stop string, in bytes of UTF-8
 * @param maxTemperature       highest sampling temperature
 * @param healthWatchInterval  how often Health.Watch re-checks readiness
 * @param unbindDeadline       how long in-flight calls may run on after shutdown starts
 * @param maxRequestBytes      largest gRPC request body (all its frames), checked while it is read
 * @param maxRequestDuration   longest a Generate stream may run; a shorter client deadline (grpc-timeout) wins
 * @param clientTokens         bearer tokens accepted on Inference; empty = Inference is open
 * @param maxStreamsPerToken   Generate streams one client token may have open at once
 */
public record GatewaySettings(int maxPromptBytes, int maxStopStrings, int maxStopStringBytes, float maxTemperature,
                              Duration healthWatchInterval, Duration unbindDeadline, int maxRequestBytes,
                              Duration maxRequestDuration, Set<String> clientTokens, int maxStreamsPerToken) {

    public static final String PATH = "tandem.gateway";

    public GatewaySettings {
        clientTokens = Set.copyOf(clientTokens);
        if (maxPromptBytes < 1) throw new IllegalArgumentException("tandem.gateway.max-prompt-bytes must be positive");
        if (maxStopStrings < 0) throw new IllegalArgumentException("tandem.gateway.max-stop-strings must be >= 0");
        if (maxStopStringBytes < 1) throw new IllegalArgumentException("tandem.gateway.max-stop-string-bytes must be positive");
        if (!(maxTemperature > 0)) throw new IllegalArgumentException("tandem.gateway.max-temperature must be positive");
        if (maxRequestBytes < 1) throw new IllegalArgumentException("tandem.gateway.max-request-bytes must be positive");
        if (maxRequestDuration.isNegative() || maxRequestDuration.isZero()) {
            throw new IllegalArgumentException("tandem.gateway.max-request-duration must be positive");
        }
        if (maxStreamsPerToken < 1) throw new IllegalArgumentException("tandem.gateway.client-auth.max-streams-per-token must be positive");
        for (String t : clientTokens) {
            if (t.isBlank() || !t.equals(t.strip())) {
                throw new IllegalArgumentException("tandem.gateway.client-auth: a client token must not be blank or start/end with spaces");
            }
        }
    }

    /** Reads {@code tandem.gateway} from a config that includes this module's reference.conf. */
    public static GatewaySettings fromConfig(Config config) {
        Config c = config.getConfig(PATH);
        Set<String> tokens = new LinkedHashSet<>(c.getStringList("client-auth.tokens"));
        String file = c.getString("client-auth.tokens-file");
        if (!file.isBlank()) tokens.addAll(readTokenFile(Path.of(file)));
        return new GatewaySettings(
                Math.toIntExact(c.getBytes("max-prompt-bytes")),
                c.getInt("max-stop-strings"),
                Math.toIntExact(c.getBytes("max-stop-string-bytes")),
                (float) c.getDouble("max-temperature"),
                c.getDuration("health-watch-interval"),
                c.getDuration("unbind-deadline"),
                Math.toIntExact(c.getBytes("max-request-bytes")),
                c.getDuration("max-request-duration"),
                tokens,
                c.getInt("client-auth.max-streams-per-token"));
    }

    /** Client tokens, one per line; blank lines and lines starting with '#' are skipped. */
    public static List<String> readTokenFile(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .map(String::strip)
                    .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                    .toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the client token file " + file + " (tandem.gateway.client-auth.tokens-file): "
                    + e.getMessage(), e);
        }
    }

    /** Never the tokens themselves: settings end up in logs. */
    @Override
    public String toString() {
        return "GatewaySettings[maxPromptBytes=" + maxPromptBytes + ", maxStopStrings=" + maxStopStrings
                + ", maxStopStringBytes=" + maxStopStringBytes + ", maxTemperature=" + maxTemperature
                + ", maxRequestBytes=" + maxRequestBytes + ", maxRequestDuration=" + maxRequestDuration
                + ", clientTokens=" + clientTokens.size() + " (redacted), maxStreamsPerToken=" + maxStreamsPerToken + "]";
    }

    /** Whether Inference calls need a client token. */
    public boolean clientAuthRequired() {
        return !clientTokens.isEmpty();
    }
}
