package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Work on the drafts dispatcher (as configured in reference.conf) runs in Linux's SCHED_IDLE class; the rest does not. */
class IdleClassExecutorTest {

    private static final int SCHED_IDLE = 5;

    /** The scheduling policy of the calling thread, from /proc/thread-self/sched ("policy : N"). */
    private static int currentPolicy() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/thread-self/sched"))) {
                if (line.startsWith("policy")) return Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new AssertionError("no policy line in /proc/thread-self/sched");
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void theDraftsDispatcherRunsInTheIdleClass() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "idle-class-executor-test",
                ConfigFactory.parseString("akka.actor.provider = local").withFallback(ConfigFactory.load()));
        try {
            CompletableFuture<Integer> drafts = new CompletableFuture<>();
            CompletableFuture<Integer> normal = new CompletableFuture<>();
            system.systemActorOf(Behaviors.setup(c -> {
                drafts.complete(currentPolicy());
                return Behaviors.empty();
            }), "on-drafts", DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER));
            system.systemActorOf(Behaviors.setup(c -> {
                normal.complete(currentPolicy());
                return Behaviors.empty();
            }), "on-default", DispatcherSelector.defaultDispatcher());
            // An idle-class thread still gets a sliver of CPU on a busy machine.
            assertEquals(SCHED_IDLE, drafts.get(2, TimeUnit.MINUTES));
            assertEquals(0, normal.get(1, TimeUnit.MINUTES));
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
