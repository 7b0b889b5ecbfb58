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
 * @param warmUp               requests the gateway sends itself before it reports SERVING
 */
public record GatewaySettings(int maxPromptBytes, int maxStopStrings, int maxStopStringBytes, float maxTemperature,
                              Duration healthWatchInterval, Duration unbindDeadline, int maxRequestBytes,
                              Duration maxRequestDuration, Set<String> clientTokens, int maxStreamsPerToken,
                              WarmUp warmUp) {

    public static final String PATH = "tandem.gateway";

    /**
     * {@code tandem.gateway.warm-up} (see {@link GatewayWarmUp}).
     *
     * @param duration           how long rounds are started; zero = off
     * @param streams            concurrent streams of a round's batch
     * @param maxTokens          new tokens per request
     * @param proposers          a greedy single stream per proposer in each round ("none" first: its speed is logged)
     * @param sampledTemperature temperature of each round's sampled stream; 0 = none
     * @param prompts            prompts, used in turn
     */
    public record WarmUp(Duration duration, int streams, int maxTokens, List<String> proposers, float sampledTemperature,
                         List<String> prompts) {

        public WarmUp {
            proposers = List.copyOf(proposers);
            prompts = List.copyOf(prompts);
            if (duration.isNegative()) throw new IllegalArgumentException("tandem.gateway.warm-up.duration must be >= 0");
            if (streams < 1) throw new IllegalArgumentException("tandem.gateway.warm-up.streams must be positive");
            if (maxTokens < 1) throw new IllegalArgumentException("tandem.gateway.warm-up.max-tokens must be positive");
            if (!(sampledTemperature >= 0)) throw new IllegalArgumentException("tandem.gateway.warm-up.sampled-temperature must be >= 0");
            if (prompts.isEmpty() || prompts.stream().anyMatch(String::isEmpty)) {
                throw new IllegalArgumentException("tandem.gateway.warm-up.prompts must be a non-empty list of non-empty prompts");
            }
        }

        public boolean enabled() {
            return !duration.isZero();
        }

        static WarmUp fromConfig(Config c) {
            return new WarmUp(c.getDuration("duration"), c.getInt("streams"), c.getInt("max-tokens"),
                    c.getStringList("proposers"), (float) c.getDouble("sampled-temperature"), c.getStringList("prompts"));
        }
    }

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
        // A token's stream limit also binds the warm-up, whose requests carry a client token when tokens are required.
        if (!clientTokens.isEmpty() && warmUp.streams() > maxStreamsPerToken) {
            warmUp = new WarmUp(warmUp.duration(), maxStreamsPerToken, warmUp.maxTokens(), warmUp.proposers(),
                    warmUp.sampledTemperature(), warmUp.prompts());
        }
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
                c.getInt("client-auth.max-streams-per-token"),
                WarmUp.fromConfig(c.getConfig("warm-up")));
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
                + ", clientTokens=" + clientTokens.size() + " (redacted), maxStreamsPerToken=" + maxStreamsPerToken
                + ", warmUp=" + warmUp + "]";
    }

    /** Whether Inference calls need a client token. */
    public boolean clientAuthRequired() {
        return !clientTokens.isEmpty();
    }
}
