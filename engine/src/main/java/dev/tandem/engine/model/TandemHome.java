package dev.tandem.engine.model;

import java.nio.file.Path;

/**
 * Where Tandem keeps its files: {@code $TANDEM_HOME} when set, else {@code ~/.cache/tandem}.
 * Models live in {@code models/} below it (the default one in {@code models/stories15M/}).
 */
public final class TandemHome {

    public static final String ENV = "TANDEM_HOME";
    public static final String DEFAULT_MODEL = "stories15M";

    private TandemHome() {}

    public static Path root() {
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) return Path.of(env);
        return Path.of(System.getProperty("user.home"), ".cache", "tandem");
    }

    public static Path models() { return root().resolve("models"); }

    public static Path defaultModelDir() { return models().resolve(DEFAULT_MODEL); }
}
