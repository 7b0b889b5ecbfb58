package dev.tandem.coordinator.grpc;

import com.typesafe.config.Config;

import java.time.Duration;

/**
 * Limits the gRPC gateway enforces before a request reaches the backend ({@code tandem.gateway}).
 *
 * @param maxPromptBytes       largest prompt, in bytes of UTF-8
 * @param maxStopStrings       most stop strings per request
 * @param maxStopStringBytes   longest stop string, in bytes of UTF-8
 * @param maxTemperature       highest sampling temperature
 * @param healthWatchInterval  how often Health.Watch re-checks readiness
 * @param unbindDeadline       how long in-flight calls may run on after shutdown starts
 */
public record GatewaySettings(int maxPromptBytes, int maxStopStrings, int maxStopStringBytes, float maxTemperature,
                              Duration healthWatchInterval, Duration unbindDeadline) {

    public GatewaySettings {
        if (maxPromptBytes < 1) throw new IllegalArgumentException("tandem.gateway.max-prompt-bytes must be positive");
        if (maxStopStrings < 0) throw new IllegalArgumentException("tandem.gateway.max-stop-strings must be >= 0");
        if (maxStopStringBytes < 1) throw new IllegalArgumentException("tandem.gateway.max-stop-string-bytes must be positive");
        if (!(maxTemperature > 0)) throw new IllegalArgumentException("tandem.gateway.max-temperature must be positive");
    }

    /** Reads {@code tandem.gateway} from a config that includes this module's reference.conf. */
    public static GatewaySettings fromConfig(Config config) {
        Config c = config.getConfig("tandem.gateway");
        return new GatewaySettings(
                Math.toIntExact(c.getBytes("max-prompt-bytes")),
                c.getInt("max-stop-strings"),
                Math.toIntExact(c.getBytes("max-stop-string-bytes")),
                (float) c.getDouble("max-temperature"),
                c.getDuration("health-watch-interval"),
                c.getDuration("unbind-deadline"));
    }
}
