package dev.tandem.cluster;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Switches logback from the command line's quiet default (warnings on stderr) to a node's logging:
 * INFO to a log file, or to stdout for a node whose stdout is already redirected to its log file.
 */
public final class NodeLogging {

    private static final String FILE_CONFIG = "tandem/logback-node-file.xml";
    private static final String STDOUT_CONFIG = "tandem/logback-node-stdout.xml";

    private NodeLogging() {}

    /** Logs to {@code file} (created with its directory), or to stdout when empty. */
    public static void configure(Optional<Path> file) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return; // another slf4j binding: leave it
        try {
            if (file.isPresent() && file.get().toAbsolutePath().getParent() != null) {
                Files.createDirectories(file.get().toAbsolutePath().getParent());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the log directory of " + file.get(), e);
        }
        String resource = file.isPresent() ? FILE_CONFIG : STDOUT_CONFIG;
        URL config = NodeLogging.class.getClassLoader().getResource(resource);
        context.reset();
        file.ifPresent(f -> context.putProperty("TANDEM_LOG_FILE", f.toAbsolutePath().toString()));
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        try {
            configurator.doConfigure(config);
        } catch (JoranException e) {
            throw new IllegalStateException("the node logging configuration " + resource + " is broken", e);
        }
    }
}
