package dev.tandem.coordinator.grpc;

import akka.grpc.GrpcServiceException;
import com.typesafe.config.ConfigFactory;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parts of the client checks that need no server: grpc-timeout values and the token settings. */
class ClientGuardTest {

    @Test
    void grpcTimeoutUnitsAndMalformedValues() {
        assertEquals(Duration.ofHours(2), ClientGuard.parseTimeout("2H"));
        assertEquals(Duration.ofMinutes(3), ClientGuard.parseTimeout("3M"));
        assertEquals(Duration.ofSeconds(99_999_999), ClientGuard.parseTimeout("99999999S"));
        assertEquals(Duration.ofMillis(150), ClientGuard.parseTimeout("150m"));
        assertEquals(Duration.ofNanos(7_000), ClientGuard.parseTimeout("7u"));
        assertEquals(Duration.ofNanos(5), ClientGuard.parseTimeout("5n"));
        for (String bad : new String[]{"", "S", "123456789S", "1.5S", "-1S", "10x", "ten S", "10 S"}) {
            GrpcServiceException e = assertThrows(GrpcServiceException.class, () -> ClientGuard.parseTimeout(bad), bad);
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().contains("grpc-timeout"));
        }
    }

    @Test
    void tokensComeFromTheListAndTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokens");
        Files.writeString(file, "# a comment\n\n  file-token-1  \nfile-token-2\n");
        GatewaySettings settings = GatewaySettings.fromConfig(ConfigFactory.parseMap(Map.of(
                        "tandem.gateway.client-auth.tokens", java.util.List.of("listed-token"),
                        "tandem.gateway.client-auth.tokens-file", file.toString()))
                .withFallback(ConfigFactory.defaultReference()));
        assertEquals(Set.of("listed-token", "file-token-1", "file-token-2"), settings.clientTokens());
        assertTrue(settings.clientAuthRequired());
        assertFalse(GatewaySettings.fromConfig(ConfigFactory.defaultReference()).clientAuthRequired(), "open by default");
    }

    @Test
    void aMissingTokenFileIsASentence(@TempDir Path dir) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GatewaySettings.fromConfig(
                ConfigFactory.parseMap(Map.of("tandem.gateway.client-auth.tokens-file", dir.resolve("nope").toString()))
                        .withFallback(ConfigFactory.defaultReference())));
        assertTrue(e.getMessage().contains("cannot read the client token file"), e.getMessage());
    }
}
