package dev.tandem.ops;

import dev.tandem.coordinator.grpc.AdminAuth;
import dev.tandem.engine.model.TandemHome;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/** The admin token file of a local cluster: {@code $TANDEM_HOME/cluster/admin.token}, mode 600. */
final class AdminToken {

    static final String CONFIG_KEY = "tandem.admin.token";
    static final String ENV = "TANDEM_ADMIN_TOKEN";
    static final String FILE = "admin.token";

    private AdminToken() {}

    static Path defaultFile() {
        return TandemHome.root().resolve("cluster").resolve(FILE);
    }

    /** Writes a fresh random token (readable by the owner only) and returns it. */
    static String writeFresh(Path file) {
        String token = AdminAuth.generateToken();
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(FILE + ".tmp");
            Files.deleteIfExists(tmp);
            try {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException notPosix) {
                Files.createFile(tmp);
            }
            Files.writeString(tmp, token + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw CommandFailure.failed("cannot write the admin token to " + file + " (" + e.getMessage() + ")");
        }
        return token;
    }

    static String read(Path file) {
        try {
            String token = Files.readString(file, StandardCharsets.UTF_8).trim();
            if (token.isEmpty()) throw CommandFailure.failed("the admin token file " + file + " is empty");
            return token;
        } catch (IOException e) {
            throw CommandFailure.failed("cannot read the admin token file " + file + " (" + e.getMessage() + ")");
        }
    }

    /** --token, else $TANDEM_ADMIN_TOKEN, else the local cluster's token file, if any. */
    static Optional<String> resolve(String option) {
        if (option != null && !option.isBlank()) return Optional.of(option.trim());
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) return Optional.of(env.trim());
        Path file = defaultFile();
        if (Files.isRegularFile(file)) return Optional.of(read(file));
        return Optional.empty();
    }
}
